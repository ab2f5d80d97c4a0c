namespace OrleansInference.Grains.Conductor;

/// <summary>
/// The conductor's own record of which block hashes it sent to which worker (an approximate prefix table, as
/// SGLang's router keeps): lets routing follow a prefix before the worker's KV events reach the index. Because block
/// hashes are chained, a set of hashes per worker answers "longest cached prefix" like a radix tree would.
/// Per worker it keeps at most the worker's pool size of hashes (least recently routed evicted first), and an entry
/// is trusted only for a limited time, after which the KV index is the authority.
/// It also counts, per worker, the distinct prefixes (first block hashes) routed to it within the TTL: how much of
/// its cache recent routing has committed, which decides where a prompt that is cached nowhere should go.
/// </summary>
internal sealed class RoutedPrefixTable(TimeSpan ttl)
{
    private readonly Dictionary<string, WorkerRecord> _workers = new(StringComparer.Ordinal);

    private sealed class WorkerRecord(int capacity)
    {
        public readonly int Capacity = Math.Max(1, capacity);
        public readonly Dictionary<ulong, LinkedListNode<(ulong Hash, long Time)>> Map = [];
        public readonly LinkedList<(ulong Hash, long Time)> Lru = new();
        public readonly Dictionary<ulong, LinkedListNode<(ulong Hash, long Time)>> RootMap = [];
        public readonly LinkedList<(ulong Hash, long Time)> Roots = new();
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
            Touch(r.Map, r.Lru, h, now);
        }
        if (hashes.Count > 0)
        {
            Touch(r.RootMap, r.Roots, hashes[0], now);
            ExpireRoots(r, now);
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

    /// <summary>
    /// Distinct prefixes (prompts' first blocks) routed to the worker within the TTL. Unlike a count of cached blocks
    /// it does not saturate at the pool size, and unlike a count of placements it does not grow with a prefix's
    /// popularity (the balance guard deals with hot prefixes).
    /// </summary>
    public int RecentPrefixes(string workerId, long now)
    {
        if (!_workers.TryGetValue(workerId, out var r))
        {
            return 0;
        }
        ExpireRoots(r, now);
        return r.RootMap.Count;
    }

    public void Remove(string workerId) => _workers.Remove(workerId);

    private static void Touch(Dictionary<ulong, LinkedListNode<(ulong Hash, long Time)>> map, LinkedList<(ulong Hash, long Time)> lru, ulong hash, long now)
    {
        if (map.TryGetValue(hash, out var node))
        {
            lru.Remove(node);
            node.Value = (hash, now);
            lru.AddFirst(node);
        }
        else
        {
            map[hash] = lru.AddFirst((hash, now));
        }
    }

    private void ExpireRoots(WorkerRecord r, long now)
    {
        var ttlTicks = ttl.Ticks;
        while (r.Roots.Last is { } oldest && now - oldest.Value.Time > ttlTicks)
        {
            r.Roots.RemoveLast();
            r.RootMap.Remove(oldest.Value.Hash);
        }
    }
}
