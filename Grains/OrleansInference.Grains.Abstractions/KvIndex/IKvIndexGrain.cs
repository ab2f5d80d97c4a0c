namespace OrleansInference.Grains;

/// <summary>
/// A worker's KV events as carried to the index: the net effect of the engine's event batches
/// <see cref="FirstSequence"/>..<see cref="Sequence"/> (a clear first, then per hash its last operation), restricted to
/// the receiving shard.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record KvEventBatchDto(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] IReadOnlyList<ulong> Stored,
    [property: Id(3)] IReadOnlyList<ulong> Removed,
    [property: Id(4)] bool Cleared)
{
    /// <summary>First engine sequence number covered; 0 means the batch covers <see cref="Sequence"/> only.</summary>
    [Id(5)] public long FirstSequence { get; init; }
}

/// <summary>
/// One shard of the cluster-wide index of which worker holds which KV block, keyed by model and shard number
/// (<c>{model}/{shard}</c>); blocks are assigned to shards by hash.
/// </summary>
public interface IKvIndexGrain : IGrainWithStringKey
{
    /// <summary>
    /// Applies the part of a worker's event batch that falls in this shard. When the batch does not continue the last
    /// one seen from that worker (a gap, or a worker this shard does not know), the shard first pulls the worker's
    /// snapshot (<see cref="IWorkerGrain.GetKvSnapshotAsync"/>) and resets that worker's entries.
    /// </summary>
    Task ApplyAsync(KvEventBatchDto batch);

    /// <summary>Replaces a worker's entries in this shard with a snapshot.</summary>
    Task ResetWorkerAsync(string workerId, IReadOnlyList<ulong> blockHashes);

    /// <summary>
    /// Pulls <paramref name="workerId"/>'s snapshot unless this shard already tracks that worker: called by the
    /// conductor when a worker (re-)registers, so a shard that lost its state (reactivated after its silo died)
    /// relearns even an idle worker's cached blocks.
    /// </summary>
    Task SyncWorkerAsync(string workerId);

    /// <summary>Drops a worker (dead or unregistered).</summary>
    Task RemoveWorkerAsync(string workerId);

    /// <summary>For each hash (in this shard), the workers holding it.</summary>
    Task<IReadOnlyDictionary<ulong, IReadOnlyList<string>>> LookupAsync(IReadOnlyList<ulong> blockHashes);
}
