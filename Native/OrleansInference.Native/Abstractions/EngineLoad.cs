namespace OrleansInference.Native;

/// <summary>A point-in-time view of an engine's load and cache, for placement and metrics.</summary>
public sealed record EngineLoad
{
    /// <summary>Requests waiting to be scheduled.</summary>
    public int Waiting { get; init; }

    /// <summary>Requests with at least one running sample.</summary>
    public int Running { get; init; }

    /// <summary>Prompt tokens of waiting and running requests not yet computed.</summary>
    public long PendingPrefillTokens { get; init; }

    /// <summary>Blocks in the pool.</summary>
    public int TotalBlocks { get; init; }

    /// <summary>Blocks neither owned by a sequence nor cached.</summary>
    public int FreeBlocks { get; init; }

    /// <summary>Blocks held only by the prefix cache (evictable).</summary>
    public int CachedBlocks { get; init; }

    /// <summary>Fraction of blocks referenced by running sequences.</summary>
    public double KvUsage => TotalBlocks == 0 ? 0 : (double)(TotalBlocks - FreeBlocks - CachedBlocks) / TotalBlocks;

    /// <summary>Prompt tokens looked up in the prefix cache (cumulative).</summary>
    public long PrefixQueryTokens { get; init; }

    /// <summary>Prompt tokens found in the prefix cache (cumulative).</summary>
    public long PrefixHitTokens { get; init; }

    /// <summary>Prompt tokens actually computed (cumulative).</summary>
    public long PrefillTokensComputed { get; init; }

    /// <summary>Output tokens generated (cumulative).</summary>
    public long GeneratedTokens { get; init; }

    /// <summary>Preemptions (recompute) so far.</summary>
    public long Preemptions { get; init; }
}
