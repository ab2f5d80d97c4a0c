using OrleansInference.Grains.Placement;
using OrleansInference.Native.Engine;

namespace OrleansInference.Grains.Hosting;

/// <summary>What a silo serves and how the control plane behaves; bound from configuration section <c>Inference</c>.</summary>
public sealed class InferenceOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Inference";

    /// <summary>Model directory, or <c>builtin</c> for the small built-in model.</summary>
    public string Model { get; set; } = "builtin";

    /// <summary>Name the model is served under; defaults to the loader's id (directory name or <c>builtin</c>).</summary>
    public string? ModelId { get; set; }

    /// <summary>Role of this silo's workers.</summary>
    public WorkerRole Role { get; set; } = WorkerRole.Colocated;

    /// <summary>Engines (workers) on this silo; 0 makes a silo that routes requests but serves no model.</summary>
    public int WorkersPerSilo { get; set; } = 1;

    /// <summary>Placement policy the conductor starts with: cache-aware, least-loaded or round-robin.</summary>
    public string Policy { get; set; } = "cache-aware";

    /// <summary>Engine settings for every worker of this silo.</summary>
    public EngineOptions Engine { get; set; } = new();

    /// <summary>Tuning of the cache-aware policy.</summary>
    public CacheAwareOptions CacheAware { get; set; } = new();

    /// <summary>Shards of the cluster-wide KV block index; must be the same on every silo.</summary>
    public int KvIndexShards { get; set; } = 8;

    /// <summary>How often each worker reports its load to the conductor (it also reports after each job).</summary>
    public TimeSpan LoadReportInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long KV events are gathered before they are sent to the index (fewer, larger messages).</summary>
    public TimeSpan KvEventFlushInterval { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How often each conductor re-reports its model's workers to the cluster's model registry (it also reports at
    /// once whenever a worker registers or leaves), so a registry that lost its state learns the models again; also how
    /// often each silo refreshes its copy of that registry.
    /// </summary>
    public TimeSpan ModelRegistryRefresh { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a silo trusts its copy of the cluster's model list when asked for a model it does not serve itself (a
    /// model missing or down in the copy is looked up again at once).
    /// </summary>
    public TimeSpan ModelDirectoryCacheTime { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Times a request may move to another worker after its worker failed.</summary>
    public int MaxMigrations { get; set; } = 3;

    /// <summary>
    /// How long a request waits for a live worker when the conductor knows none (e.g. just reactivated after its silo
    /// died, before workers re-register) before failing with Unavailable.
    /// </summary>
    public TimeSpan PlacementWaitForWorkers { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// When the model has a single live worker and it is on the silo of the request grain, start the job there at once
    /// and tell the conductor in the background (same bookkeeping) instead of asking it first: placement could only
    /// choose that worker, and the round trip would sit before the first token.
    /// </summary>
    public bool SoleWorkerShortcut { get; set; } = true;

    /// <summary>
    /// Keep request checkpoints in the grain storage named <c>inference-requests</c> (Redis when the silo is
    /// configured with Redis, memory otherwise), so a request survives its request grain's silo dying: a caller that
    /// re-attaches with the tokens it received gets the rest, generated again from the prompt plus those tokens.
    /// </summary>
    public bool RequestCheckpoints { get; set; } = true;

    /// <summary>A running request's checkpoint is written at most this often while tokens flow (and always at start, placement and end).</summary>
    public TimeSpan RequestCheckpointInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>...or after this many new tokens, whichever comes first.</summary>
    public int RequestCheckpointTokens { get; set; } = 64;

    /// <summary>
    /// How long a request keeps running after its caller stopped reading without <see cref="IRequestGrain.CancelAsync"/>
    /// (a dropped HTTP connection, a cancelled or abandoned enumeration), so the caller can re-attach (SSE
    /// <c>Last-Event-ID</c>, the SDK's resume); it is cancelled, and its KV blocks freed, if nobody re-attached by then.
    /// Zero cancels at once.
    /// </summary>
    public TimeSpan DetachedRequestGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a finished request keeps its output for callers that re-attach.</summary>
    public TimeSpan FinishedRequestTtl { get; set; } = TimeSpan.FromSeconds(60);
}
