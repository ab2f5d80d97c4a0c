namespace OrleansInference.Native;

/// <summary>Where a cached block lives.</summary>
public enum KvTier
{
    /// <summary>Accelerator memory (or the CPU engine's pool).</summary>
    Device = 0,

    /// <summary>Host memory.</summary>
    Host = 1,
}

/// <summary>What happened to a set of blocks.</summary>
public enum KvEventKind
{
    /// <summary>Full blocks became reusable by hash (prefix cache).</summary>
    Stored,

    /// <summary>Blocks were evicted and can no longer be reused.</summary>
    Removed,

    /// <summary>Everything was dropped (engine reset).</summary>
    Cleared,
}

/// <summary>One change to the set of cached block hashes.</summary>
public sealed record KvEvent(KvEventKind Kind, IReadOnlyList<ulong> BlockHashes, KvTier Tier = KvTier.Device);

/// <summary>Events of one engine step, numbered consecutively so a consumer can notice a gap.</summary>
public sealed record KvEventBatch(long Sequence, IReadOnlyList<KvEvent> Events);

/// <summary>The full set of cached block hashes as of event <see cref="Sequence"/>.</summary>
public sealed record KvCacheSnapshot(long Sequence, IReadOnlyList<ulong> BlockHashes);
