using Microsoft.Extensions.Logging;

namespace OrleansInference.Native.Engine;

/// <summary>
/// Numbers the prefix cache's event batches consecutively, hands them to subscribers, and keeps the set of cached
/// hashes as those events describe it, so a snapshot and its sequence number always agree.
/// </summary>
internal sealed class KvEventLog
{
    private readonly Lock _gate = new();
    private readonly HashSet<ulong> _hashes = [];
    private readonly ILogger _logger;
    private Action<KvEventBatch>[] _subscribers = [];
    private long _sequence;

    public KvEventLog(ILogger logger) => _logger = logger;

    public long Sequence
    {
        get
        {
            lock (_gate) return _sequence;
        }
    }

    /// <summary>Publishes one step's events (nothing when empty). Engine thread only.</summary>
    public void Publish(IReadOnlyList<KvEvent> events)
    {
        if (events.Count == 0)
        {
            return;
        }
        KvEventBatch batch;
        lock (_gate)
        {
            foreach (var e in events)
            {
                switch (e.Kind)
                {
                    case KvEventKind.Stored:
                        _hashes.UnionWith(e.BlockHashes);
                        break;
                    case KvEventKind.Removed:
                        _hashes.ExceptWith(e.BlockHashes);
                        break;
                    case KvEventKind.Cleared:
                        _hashes.Clear();
                        break;
                }
            }
            batch = new KvEventBatch(++_sequence, events);
        }
        foreach (var handler in Volatile.Read(ref _subscribers))
        {
            try
            {
                handler(batch);
            }
            catch (Exception ex)
            {
                EngineLog.SubscriberFailed(_logger, ex);
            }
        }
    }

    public KvCacheSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new KvCacheSnapshot(_sequence, _hashes.ToArray());
        }
    }

    public IDisposable Subscribe(Action<KvEventBatch> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            _subscribers = [.. _subscribers, handler];
        }
        return new Subscription(this, handler);
    }

    private void Unsubscribe(Action<KvEventBatch> handler)
    {
        lock (_gate)
        {
            var list = _subscribers.ToList();
            list.Remove(handler);
            _subscribers = [.. list];
        }
    }

    private sealed class Subscription(KvEventLog log, Action<KvEventBatch> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                log.Unsubscribe(handler);
            }
        }
    }
}
