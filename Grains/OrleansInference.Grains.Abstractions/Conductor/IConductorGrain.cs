namespace OrleansInference.Grains;

/// <summary>A request to place work, carrying the prompt's block hashes (same hash function as the engines).</summary>
[GenerateSerializer, Immutable]
public sealed record PlacementRequest
{
    /// <summary>Request id (for logs and balance tracking).</summary>
    [Id(0)] public required string RequestId { get; init; }
    /// <summary>Prompt length in tokens.</summary>
    [Id(1)] public int PromptTokens { get; init; }
    /// <summary>Chained hashes of the prompt's full blocks.</summary>
    [Id(2)] public IReadOnlyList<ulong> BlockHashes { get; init; } = [];
    /// <summary>Workers not to use (e.g. the one that just died).</summary>
    [Id(3)] public IReadOnlyList<string> ExcludeWorkers { get; init; } = [];
    /// <summary>Role wanted; Colocated accepts colocated workers only.</summary>
    [Id(4)] public WorkerRole Role { get; init; } = WorkerRole.Colocated;
}

/// <summary>The conductor's answer.</summary>
[GenerateSerializer, Immutable]
public sealed record PlacementDecision(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] int CachedBlocks,
    [property: Id(2)] string Policy,
    [property: Id(3)] double Cost);

/// <summary>The conductor's answer to a load report.</summary>
/// <param name="Known">False when the conductor does not know the worker (e.g. it was reactivated): register again.</param>
/// <param name="SoleWorker">
/// True when the worker is the only live one of its model and role: every placement of that model can only choose it,
/// so a request grain on the worker's silo may start there and tell the conductor afterwards
/// (<see cref="IConductorGrain.NotePlacedAsync"/>) instead of asking first.
/// </param>
[GenerateSerializer, Immutable]
public sealed record LoadReportAck([property: Id(0)] bool Known, [property: Id(1)] bool SoleWorker);

/// <summary>A registered worker as the conductor sees it.</summary>
[GenerateSerializer, Immutable]
public sealed record WorkerInfo(
    [property: Id(0)] WorkerRegistration Registration,
    [property: Id(1)] WorkerLoad? Load,
    [property: Id(2)] int InFlight,
    [property: Id(3)] long Placements);

/// <summary>
/// One per model: the registry of live workers and the placement decision. Its state is soft: it is rebuilt from the
/// workers after a reactivation.
/// </summary>
public interface IConductorGrain : IGrainWithStringKey
{
    /// <summary>Adds or refreshes a worker; rejects one whose block size or hash version disagrees.</summary>
    Task RegisterWorkerAsync(WorkerRegistration registration);

    /// <summary>Removes a worker (silo death, shutdown).</summary>
    Task UnregisterWorkerAsync(string workerId);

    /// <summary>
    /// Updates a worker's load. <see cref="LoadReportAck.Known"/> is false when the conductor does not know the worker
    /// (e.g. after the conductor was reactivated): the worker then registers again.
    /// </summary>
    Task<LoadReportAck> ReportLoadAsync(WorkerLoad load);

    /// <summary>Chooses a worker. Throws <see cref="InferenceException"/> (Unavailable) when none is live.</summary>
    Task<PlacementDecision> PlaceAsync(PlacementRequest request);

    /// <summary>
    /// Records a placement made without asking (on the sole worker of the model, see <see cref="LoadReportAck.SoleWorker"/>)
    /// exactly as <see cref="PlaceAsync"/> would have recorded it: in-flight count, pending prompt tokens, routed prefix.
    /// Returns the decision <see cref="PlaceAsync"/> reports; ignored (null) when the worker is not registered.
    /// </summary>
    Task<PlacementDecision?> NotePlacedAsync(PlacementRequest request, string workerId);

    /// <summary>Tells the conductor a placed request finished (for in-flight accounting).</summary>
    Task CompleteAsync(string workerId, string requestId);

    /// <summary>Live workers.</summary>
    Task<IReadOnlyList<WorkerInfo>> GetWorkersAsync();

    /// <summary>Switches the placement policy: cache-aware, least-loaded or round-robin.</summary>
    Task SetPolicyAsync(string policy);

    /// <summary>The policy in use.</summary>
    Task<string> GetPolicyAsync();
}
