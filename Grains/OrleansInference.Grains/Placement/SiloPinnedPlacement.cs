using Orleans.Placement;
using Orleans.Runtime;

namespace OrleansInference.Grains.Placement;

/// <summary>
/// Activates a grain only on the silo named in its key (see <see cref="Workers.WorkerKey"/>): a worker grain is a
/// front for an engine that lives in that silo's process, so it must never be activated anywhere else.
/// </summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking]
public sealed class SiloPinnedPlacement : PlacementStrategy
{
    internal static SiloPinnedPlacement Instance { get; } = new();
}

/// <summary>Marks a grain class as <see cref="SiloPinnedPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloPinnedPlacementAttribute() : PlacementAttribute(SiloPinnedPlacement.Instance);
