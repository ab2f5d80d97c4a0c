using System.Threading.Channels;
using OrleansInference.Native;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Grains.Tests.Failover;

/// <summary>
/// A real engine whose output reaches its consumer at most one update per <c>pace</c>, so a fault injected after the
/// first token lands mid-stream however fast the CPU model is. It counts the streams it is still forwarding, so a
/// test can check that every job on a surviving worker ended (besides the engine's own block accounting).
/// </summary>
internal sealed class PacedEngine(IInferenceEngine inner, TimeSpan pace, Orleans.Runtime.SiloAddress silo) : IInferenceEngine
{
    private int _active;

    /// <summary>The silo hosting it.</summary>
    public Orleans.Runtime.SiloAddress Silo { get; } = silo;

    public int ActiveStreams => Volatile.Read(ref _active);

    public EngineInfo Info => inner.Info;

    public ITextTokenizer Tokenizer => inner.Tokenizer;

    public GenerationStream Submit(GenerationRequest request)
    {
        var source = inner.Submit(request);
        var channel = Channel.CreateUnbounded<GenerationUpdate>();
        var stop = new CancellationTokenSource();
        Interlocked.Increment(ref _active);
        _ = PumpAsync(source, channel.Writer, stop.Token);
        return new GenerationStream(request.RequestId, channel.Reader, () =>
        {
            stop.Cancel();
            inner.Abort(request.RequestId);
        });
    }

    private async Task PumpAsync(GenerationStream source, ChannelWriter<GenerationUpdate> writer, CancellationToken ct)
    {
        try
        {
            await foreach (var update in source.WithCancellation(ct))
            {
                await Task.Delay(pace, ct);
                writer.TryWrite(update);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            writer.TryComplete();
            Interlocked.Decrement(ref _active);
        }
    }

    public bool Abort(string requestId) => inner.Abort(requestId);

    public EngineLoad GetLoad() => inner.GetLoad();

    public KvCacheSnapshot GetKvSnapshot() => inner.GetKvSnapshot();

    public IDisposable SubscribeKvEvents(Action<KvEventBatch> handler) => inner.SubscribeKvEvents(handler);

    public Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default) =>
        inner.ExportKvAsync(tokenIds, cacheSalt, cancellationToken);

    public Task<int> ImportKvAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        inner.ImportKvAsync(payload, cancellationToken);

    public Task<ScoreResult> ScoreAsync(IReadOnlyList<int> tokenIds, int topLogprobs = 0, CancellationToken cancellationToken = default) =>
        inner.ScoreAsync(tokenIds, topLogprobs, cancellationToken);

    /// <summary>The inner engine belongs to the engine set it came from, which disposes it.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
