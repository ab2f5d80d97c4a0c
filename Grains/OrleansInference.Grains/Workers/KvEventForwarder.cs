using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using OrleansInference.Grains.KvIndex;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// Carries one engine's KV events to the index shards off the engine thread: the engine's handler only enqueues;
/// a background loop merges what has arrived (<see cref="KvDelta"/>) and sends each shard its part.
/// Each shard receives a contiguous range of engine sequence numbers (<c>FirstSequence..Sequence</c>) that starts
/// right after the last range it was sent, so a shard is skipped while nothing concerns it. When a send fails, the
/// next range sent to that shard deliberately leaves a gap, and the shard resynchronises from a snapshot.
/// </summary>
internal sealed partial class KvEventForwarder : IAsyncDisposable
{
    private readonly Channel<KvEventBatch> _channel = Channel.CreateUnbounded<KvEventBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly IGrainFactory _grains;
    private readonly string _workerId;
    private readonly string _model;
    private readonly int _shards;
    private readonly TimeSpan _flushInterval;
    private readonly ILogger _logger;
    private readonly long[] _lastSent;
    private readonly IDisposable _subscription;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public KvEventForwarder(IInferenceEngine engine, IGrainFactory grains, string workerId, string model, int shards, TimeSpan flushInterval, ILogger logger)
    {
        _grains = grains;
        _workerId = workerId;
        _model = model;
        _shards = shards;
        _flushInterval = flushInterval;
        _logger = logger;
        _lastSent = new long[shards];
        // Events before the forwarder starts are in the engine's snapshot; a shard that misses them resynchronises.
        _subscription = engine.SubscribeKvEvents(batch => _channel.Writer.TryWrite(batch));
    }

    public void Start() => _loop = Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken ct)
    {
        var reader = _channel.Reader;
        try
        {
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                if (_flushInterval > TimeSpan.Zero)
                {
                    await Task.Delay(_flushInterval, ct).ConfigureAwait(false);
                }
                var delta = new KvDelta();
                while (reader.TryRead(out var batch))
                {
                    delta.Add(batch);
                }
                await SendAsync(delta).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private async Task SendAsync(KvDelta delta)
    {
        var parts = delta.SplitByShard(_shards);
        var sends = new List<Task>(_shards);
        for (var s = 0; s < _shards; s++)
        {
            if (parts[s] is not { } part)
            {
                continue;
            }
            var dto = new KvEventBatchDto(_workerId, delta.LastSequence, part.Stored, part.Removed, delta.Cleared)
            {
                FirstSequence = _lastSent[s] + 1,
            };
            sends.Add(SendOneAsync(s, dto));
        }
        await Task.WhenAll(sends).ConfigureAwait(false);
    }

    private async Task SendOneAsync(int shard, KvEventBatchDto dto)
    {
        try
        {
            await _grains.GetGrain<IKvIndexGrain>(KvShards.Key(_model, shard)).ApplyAsync(dto).ConfigureAwait(false);
            _lastSent[shard] = dto.Sequence;
        }
        catch (Exception ex)
        {
            // Leave a gap: the next range will not start at last + 1, so the shard takes a snapshot.
            _lastSent[shard] = dto.Sequence + 1;
            Log.SendFailed(_logger, ex, _workerId, shard);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        _channel.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not send KV events to index shard {Shard}; it will resynchronise")]
        public static partial void SendFailed(ILogger logger, Exception ex, string workerId, int shard);
    }
}
