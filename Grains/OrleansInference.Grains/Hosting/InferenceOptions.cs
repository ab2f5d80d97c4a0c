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

    /// <summary>Times a request may move to another worker after its worker failed.</summary>
    public int MaxMigrations { get; set; } = 3;

    /// <summary>
    /// How long a request waits for a live worker when the conductor knows none (e.g. just reactivated after its silo
    /// died, before workers re-register) before failing with Unavailable.
    /// </summary>
    public TimeSpan PlacementWaitForWorkers { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long a request whose caller stopped reading without cancelling it (a dropped connection: an SSE client that
    /// will resume with Last-Event-ID, an SDK stream re-attaching) keeps running for a caller to re-attach before it is
    /// cancelled. <see cref="IRequestGrain.CancelAsync"/> cancels at once. Zero cancels when the caller stops.
    /// </summary>
    public TimeSpan ReattachGrace { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How long a finished request keeps its output for callers that re-attach.</summary>
    public TimeSpan FinishedRequestTtl { get; set; } = TimeSpan.FromSeconds(60);
}
