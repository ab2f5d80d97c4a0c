namespace OrleansInference.Grains.Conductor;

/// <summary>
/// The conductor's own record of which block hashes it sent to which worker (an approximate prefix table, as
/// SGLang's router keeps): lets routing follow a prefix before the worker's KV events reach the index. Because block
/// hashes are chained, a set of hashes per worker answers "longest cached prefix" like a radix tree would.
/// Per worker it keeps at most the worker's pool size of hashes (least recently routed evicted first), and an entry
/// is trusted only for a limited time, after which the KV index is the authority.
/// </summary>
internal sealed class RoutedPrefixTable(TimeSpan ttl)
{
    private readonly Dictionary<string, WorkerRecord> _workers = new(StringComparer.Ordinal);

    private sealed class WorkerRecord(int capacity)
    {
        public readonly int Capacity = Math.Max(1, capacity);
        public readonly Dictionary<ulong, LinkedListNode<(ulong Hash, long Time)>> Map = [];
        public readonly LinkedList<(ulong Hash, long Time)> Lru = new();
    }

    /// <summary>Records that the prompt with <paramref name="hashes"/> was routed to <paramref name="workerId"/>.</summary>
    public void Record(string workerId, int capacityBlocks, IReadOnlyList<ulong> hashes, long now)
    {
        if (!_workers.TryGetValue(workerId, out var r))
        {
            _workers[workerId] = r = new WorkerRecord(capacityBlocks);
        }
        foreach (var h in hashes)
        {
            if (r.Map.TryGetValue(h, out var node))
            {
                r.Lru.Remove(node);
                node.Value = (h, now);
                r.Lru.AddFirst(node);
            }
            else
            {
                r.Map[h] = r.Lru.AddFirst((h, now));
            }
        }
        while (r.Map.Count > r.Capacity)
        {
            var oldest = r.Lru.Last!;
            r.Lru.RemoveLast();
            r.Map.Remove(oldest.Value.Hash);
        }
    }

    /// <summary>Leading blocks of <paramref name="hashes"/> routed to the worker within the TTL.</summary>
    public int LeadingRun(string workerId, IReadOnlyList<ulong> hashes, long now)
    {
        if (!_workers.TryGetValue(workerId, out var r))
        {
            return 0;
        }
        var ttlTicks = ttl.Ticks;
        var run = 0;
        foreach (var h in hashes)
        {
            if (!r.Map.TryGetValue(h, out var node) || now - node.Value.Time > ttlTicks)
            {
                break;
            }
            run++;
        }
        return run;
    }

    public void Remove(string workerId) => _workers.Remove(workerId);
}
