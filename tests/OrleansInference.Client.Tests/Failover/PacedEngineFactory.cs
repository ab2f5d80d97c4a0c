using System.Threading.Channels;
using OrleansInference.Grains.Hosting;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Client.Tests.Failover;

/// <summary>Built-in model engines whose output is forwarded one update per <c>pace</c>, so a fault lands mid-stream.</summary>
internal sealed class PacedEngineFactory(TimeSpan pace) : IEngineFactory
{
    public EngineSet Create(InferenceOptions options, int count)
    {
        var model = ModelLoader.Load(options.Model, options.ModelId);
        options.Engine.ModelId ??= options.ModelId ?? model.Id;
        var engines = Enumerable.Range(0, count).Select(_ => (IInferenceEngine)new PacedEngine(InferenceEngine.Create(model, options.Engine), pace)).ToList();
        return new EngineSet(engines, model);
    }

    private sealed class PacedEngine(IInferenceEngine inner, TimeSpan pace) : IInferenceEngine
    {
        public EngineInfo Info => inner.Info;

        public ITextTokenizer Tokenizer => inner.Tokenizer;

        public GenerationStream Submit(GenerationRequest request)
        {
            var source = inner.Submit(request);
            var channel = Channel.CreateUnbounded<GenerationUpdate>();
            var stop = new CancellationTokenSource();
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

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
