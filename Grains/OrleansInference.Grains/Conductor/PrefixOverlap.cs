using OrleansInference.Grains.KvIndex;

namespace OrleansInference.Grains.Conductor;

/// <summary>Asks the KV index shards which workers hold the prompt's blocks and measures each worker's leading run.</summary>
internal static class PrefixOverlap
{
    /// <summary>Per worker, the number of consecutive prompt blocks from the first that it holds (absent = 0).</summary>
    public static async Task<Dictionary<string, int>> LeadingRunsAsync(IGrainFactory grains, string model, int shards, IReadOnlyList<ulong> hashes)
    {
        var runs = new Dictionary<string, int>(StringComparer.Ordinal);
        if (hashes.Count == 0)
        {
            return runs;
        }
        var byShard = new List<ulong>?[shards];
        foreach (var h in hashes)
        {
            (byShard[KvShards.ShardOf(h, shards)] ??= []).Add(h);
        }
        // The first block decides whether any run exists: ask its shard first, and the others only if someone holds
        // it. A prompt nobody has seen (the common case) then costs one lookup instead of one per shard.
        var firstShard = KvShards.ShardOf(hashes[0], shards);
        var holders = new Dictionary<ulong, IReadOnlyList<string>>(
            await grains.GetGrain<IKvIndexGrain>(KvShards.Key(model, firstShard)).LookupAsync(byShard[firstShard]!));
        if (!holders.ContainsKey(hashes[0]))
        {
            return runs;
        }
        var lookups = new List<Task<IReadOnlyDictionary<ulong, IReadOnlyList<string>>>>();
        for (var s = 0; s < shards; s++)
        {
            if (s != firstShard && byShard[s] is { } part)
            {
                lookups.Add(grains.GetGrain<IKvIndexGrain>(KvShards.Key(model, s)).LookupAsync(part));
            }
        }
        foreach (var result in await Task.WhenAll(lookups))
        {
            foreach (var (h, workers) in result) holders[h] = workers;
        }
        return LeadingRuns(hashes, holders);
    }

    /// <summary>Walks the chain: a worker's run continues while it holds every block so far.</summary>
    public static Dictionary<string, int> LeadingRuns(IReadOnlyList<ulong> hashes, IReadOnlyDictionary<ulong, IReadOnlyList<string>> holders)
    {
        var runs = new Dictionary<string, int>(StringComparer.Ordinal);
        if (hashes.Count == 0 || !holders.TryGetValue(hashes[0], out var first))
        {
            return runs;
        }
        var alive = new HashSet<string>(first, StringComparer.Ordinal);
        foreach (var w in alive) runs[w] = 1;
        for (var i = 1; i < hashes.Count && alive.Count > 0; i++)
        {
            if (!holders.TryGetValue(hashes[i], out var here))
            {
                break;
            }
            alive.IntersectWith(here);
            foreach (var w in alive) runs[w] = i + 1;
        }
        return runs;
    }
}
