namespace OrleansInference.Grains;

/// <summary>What a worker does in a (possibly disaggregated) deployment.</summary>
[GenerateSerializer]
public enum WorkerRole
{
    /// <summary>Prefill and decode on the same engine.</summary>
    Colocated = 0,
    /// <summary>Computes prompts, then hands KV to a decode worker.</summary>
    Prefill = 1,
    /// <summary>Continues sequences whose KV was imported.</summary>
    Decode = 2,
}

/// <summary>A worker's identity and its engine's static facts, sent to the conductor at registration.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerRegistration
{
    /// <summary>Worker grain key (carries the owning silo).</summary>
    [Id(0)] public required string WorkerId { get; init; }
    /// <summary>Silo address (parsable form).</summary>
    [Id(1)] public required string Silo { get; init; }
    /// <summary>Model served.</summary>
    [Id(2)] public required string Model { get; init; }
    /// <summary>Role.</summary>
    [Id(3)] public WorkerRole Role { get; init; }
    /// <summary>KV block size in tokens.</summary>
    [Id(4)] public int BlockSize { get; init; }
    /// <summary>Block hash function version.</summary>
    [Id(5)] public int HashVersion { get; init; }
    /// <summary>Device, e.g. cpu or cuda:0.</summary>
    [Id(6)] public string Device { get; init; } = "cpu";
    /// <summary>Total KV blocks.</summary>
    [Id(7)] public int TotalBlocks { get; init; }
    /// <summary>Maximum context length.</summary>
    [Id(8)] public int MaxModelLength { get; init; }
}

/// <summary>A worker's load, reported periodically and after each placement.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerLoad
{
    /// <summary>Worker id.</summary>
    [Id(0)] public required string WorkerId { get; init; }
    /// <summary>Waiting requests.</summary>
    [Id(1)] public int Waiting { get; init; }
    /// <summary>Running requests.</summary>
    [Id(2)] public int Running { get; init; }
    /// <summary>Prompt tokens not yet computed.</summary>
    [Id(3)] public long PendingPrefillTokens { get; init; }
    /// <summary>Free blocks (incl. evictable cached ones).</summary>
    [Id(4)] public int FreeBlocks { get; init; }
    /// <summary>Total blocks.</summary>
    [Id(5)] public int TotalBlocks { get; init; }
    /// <summary>Cumulative prefix-cache hit tokens.</summary>
    [Id(6)] public long PrefixHitTokens { get; init; }
    /// <summary>Cumulative prefix-cache query tokens.</summary>
    [Id(7)] public long PrefixQueryTokens { get; init; }
    /// <summary>Cumulative prompt tokens computed.</summary>
    [Id(8)] public long PrefillTokensComputed { get; init; }
    /// <summary>Blocks kept only by the prefix cache (counted in <see cref="FreeBlocks"/>: evictable).</summary>
    [Id(9)] public int CachedBlocks { get; init; }
    /// <summary>Blocks held by sequences (running or preempted requests): 0 on an idle, leak-free worker.</summary>
    public int UsedBlocks => TotalBlocks - FreeBlocks;
}

/// <summary>
/// A front for one engine, pinned to the silo that owns it (its key names that silo); never activated elsewhere.
/// </summary>
public interface IWorkerGrain : IGrainWithStringKey
{
    /// <summary>Runs a request on this worker's engine and streams its output. Cancellation aborts it in the engine.</summary>
    IAsyncEnumerable<TokenChunk> RunAsync(WorkerJob job, CancellationToken cancellationToken = default);

    /// <summary>Aborts a request (frees its blocks).</summary>
    Task AbortAsync(string requestId);

    /// <summary>Current load.</summary>
    Task<WorkerLoad> GetLoadAsync();

    /// <summary>The worker's registration facts.</summary>
    Task<WorkerRegistration> GetRegistrationAsync();

    /// <summary>All cached block hashes and the KV event sequence they reflect (for index resync).</summary>
    Task<KvSnapshotDto> GetKvSnapshotAsync();

    /// <summary>Exports the cached KV of a token prefix (disaggregation, migration).</summary>
    Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt);

    /// <summary>Imports KV exported by another worker; returns tokens now cached.</summary>
    Task<int> ImportKvAsync(byte[] payload);
}

/// <summary>A request as handed to a worker: tokenized, with the seed fixed and any already-delivered output.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerJob
{
    /// <summary>Request id (engine request id).</summary>
    [Id(0)] public required string RequestId { get; init; }
    /// <summary>Prompt ids.</summary>
    [Id(1)] public required IReadOnlyList<int> PromptTokenIds { get; init; }
    /// <summary>Sampling; Seed is always set.</summary>
    [Id(2)] public required SamplingOptions Sampling { get; init; }
    /// <summary>Priority.</summary>
    [Id(3)] public InferencePriority Priority { get; init; }
    /// <summary>Output tokens already delivered (resume after a migration); only with N = 1 per job.</summary>
    [Id(4)] public IReadOnlyList<int> ResumeOutputTokenIds { get; init; } = [];
    /// <summary>Sample index of this job's first sample (RNG stream).</summary>
    [Id(5)] public int FirstSampleIndex { get; init; }
    /// <summary>Cache salt.</summary>
    [Id(6)] public string? CacheSalt { get; init; }
}

/// <summary>Cached block hashes of a worker at a KV event sequence number.</summary>
[GenerateSerializer, Immutable]
public sealed record KvSnapshotDto([property: Id(0)] string WorkerId, [property: Id(1)] long Sequence, [property: Id(2)] IReadOnlyList<ulong> BlockHashes);
