using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Runtime;
using Orleans.Storage;
using OrleansInference.Grains.Requests;
using OrleansInference.Grains.Models;
using OrleansInference.Grains.Placement;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Hosting;

/// <summary>Adds the inference control plane to a silo.</summary>
public static class InferenceSiloExtensions
{
    /// <summary>Name of the grain storage that holds request checkpoints; register Redis under it before <see cref="AddInference"/>.</summary>
    public const string RequestCheckpointStorageName = RequestCheckpointStore.StorageName;

    /// <summary>
    /// Registers what a silo needs to serve and route inference requests: options (section <c>Inference</c> of
    /// <paramref name="configuration"/>, then <paramref name="configure"/>), the engine host that loads the model and
    /// creates <see cref="InferenceOptions.WorkersPerSilo"/> engines at startup and registers them with the conductor,
    /// the silo-pinned placement of worker grains, the model catalog (<see cref="IModelCatalog"/>), this silo's view of
    /// the models other silos serve (<see cref="ClusterModelDirectory"/>) and the metrics
    /// (<see cref="InferenceMetrics"/>, meter <c>OrleansInference</c>), and memory grain storage for request
    /// checkpoints (named <see cref="RequestCheckpointStorageName"/>) unless a storage of that name was registered
    /// first (the silo host registers Redis there when it has a Redis connection). KV events travel by grain calls, so
    /// no stream provider is needed.
    /// </summary>
    public static ISiloBuilder AddInference(this ISiloBuilder builder, IConfiguration? configuration = null, Action<InferenceOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<InferenceOptions>();
        if (configuration is not null)
        {
            var section = configuration.GetSection(InferenceOptions.SectionName);
            options.Bind(section);
        }
        if (configure is not null)
        {
            options.Configure(configure);
        }
        options.Validate(o => o.KvIndexShards > 0, "Inference:KvIndexShards must be positive.")
            .Validate(o => o.WorkersPerSilo >= 0, "Inference:WorkersPerSilo must not be negative.")
            .Validate(o => PlacementPolicies.Names.Contains(o.Policy), $"Inference:Policy must be one of: {string.Join(", ", PlacementPolicies.Names)}.");

        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<InferenceMetrics>();
        services.TryAddSingleton<IEngineFactory, ModelEngineFactory>();
        services.TryAddSingleton<EngineHost>();
        services.AddSingleton<IModelCatalog>(sp => sp.GetRequiredService<EngineHost>());
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<EngineHost>());
        services.TryAddSingleton<ClusterModelDirectory>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ClusterModelDirectory>());
        builder.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        // Request checkpoints: a storage registered under this name before AddInference (e.g. Redis) is used as is.
        if (!services.Any(d => d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, RequestCheckpointStore.StorageName)))
        {
            builder.AddMemoryGrainStorage(RequestCheckpointStore.StorageName);
        }
        return builder;
    }
}
