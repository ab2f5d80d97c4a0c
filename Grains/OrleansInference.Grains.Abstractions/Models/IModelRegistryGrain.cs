namespace OrleansInference.Grains;

/// <summary>A model some silo of the cluster serves, as the model registry knows it.</summary>
/// <param name="Id">Served model name.</param>
/// <param name="MaxModelLength">Maximum prompt + output tokens.</param>
/// <param name="Device">Backend of its first registered worker, e.g. <c>cpu</c> or <c>cuda:0</c>.</param>
/// <param name="LiveWorkers">Registered workers whose silo is not dead or leaving; 0 when the model's workers are all gone.</param>
[GenerateSerializer, Immutable]
public sealed record ClusterModel(
    [property: Id(0)] string Id,
    [property: Id(1)] int MaxModelLength,
    [property: Id(2)] string Device,
    [property: Id(3)] int LiveWorkers);

/// <summary>A conductor's report of its model's workers to the model registry.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelWorkersReport
{
    /// <summary>Served model name.</summary>
    [Id(0)] public required string Model { get; init; }
    /// <summary>Maximum prompt + output tokens.</summary>
    [Id(1)] public int MaxModelLength { get; init; }
    /// <summary>Backend of the first registered worker.</summary>
    [Id(2)] public string Device { get; init; } = "cpu";
    /// <summary>Silo (parsable address) of each registered worker; empty when the last one left.</summary>
    [Id(3)] public IReadOnlyList<string> WorkerSilos { get; init; } = [];
}

/// <summary>
/// The models of the whole cluster, fed by the conductors (one per model) whenever their set of workers changes and
/// every <c>Inference:ModelRegistryRefresh</c>. Lets a silo without a model's engine (a router, or one serving other
/// models) answer for it. Soft state: rebuilt by the conductors' next reports after a reactivation. A model stays
/// listed after its last worker left (with <see cref="ClusterModel.LiveWorkers"/> 0), so callers can tell "down"
/// from "unknown".
/// </summary>
public interface IModelRegistryGrain : IGrainWithStringKey
{
    /// <summary>Replaces what the registry knows about <see cref="ModelWorkersReport.Model"/>.</summary>
    Task ReportAsync(ModelWorkersReport report);

    /// <summary>Every model reported so far, by name, with its live worker count as of this silo's membership view.</summary>
    Task<IReadOnlyList<ClusterModel>> GetModelsAsync();

    /// <summary>One model, or null when no conductor ever reported it.</summary>
    Task<ClusterModel?> FindAsync(string model);
}

/// <summary>Where the model registry lives.</summary>
public static class ModelRegistry
{
    /// <summary>Key of the cluster's one <see cref="IModelRegistryGrain"/>.</summary>
    public const string GrainKey = "cluster";

    /// <summary>The cluster's model registry.</summary>
    public static IModelRegistryGrain GetModelRegistry(this IGrainFactory grains) => grains.GetGrain<IModelRegistryGrain>(GrainKey);
}
