using Orleans.Runtime;
using Orleans.Runtime.Placement;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Placement;

/// <summary>
/// Places a <see cref="SiloPinnedPlacement"/> grain on the silo its key names, provided that silo is compatible and
/// active. Never falls back to another silo: when the silo is gone the call fails with
/// <see cref="SiloUnavailableException"/>, which callers treat as "worker gone".
/// </summary>
internal sealed class SiloPinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString() ?? "";
        if (!WorkerKey.TryParse(key, out var worker))
        {
            throw new ArgumentException($"Grain {target.GrainIdentity} uses silo-pinned placement but its key does not name a silo.");
        }
        foreach (var silo in context.GetCompatibleSilos(target))
        {
            if (silo.Equals(worker.Silo))
            {
                return Task.FromResult(silo);
            }
        }
        throw new SiloUnavailableException($"Silo {worker.Silo} that owns worker '{key}' is not active.");
    }
}
