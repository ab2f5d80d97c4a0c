using Orleans.Placement;
using Orleans.Runtime;

namespace OrleansInference.Grains.Models;

/// <summary>
/// The cluster's list of served models (see <see cref="IModelRegistryGrain"/>). Live worker counts are filtered by
/// this silo's membership view, so a model whose silos died is reported down even if its conductor died with them and
/// never reported the loss. Placed on the first caller's silo (a conductor, normally on a silo with workers).
/// Its state is soft and is lost not only with its silo: Orleans also deactivates it when the silo that held its grain
/// directory entry leaves. The conductors re-report their models within <c>Inference:ModelRegistryRefresh</c>, and each
/// silo's <see cref="ClusterModelDirectory"/> remembers the models it has seen, so a model that is down is still
/// answered as down, not unknown.
/// </summary>
[PreferLocalPlacement]
internal sealed class ModelRegistryGrain(IClusterMembershipService membership) : Grain, IModelRegistryGrain
{
    private readonly Dictionary<string, Entry> _models = new(StringComparer.Ordinal);

    private sealed record Entry(ModelWorkersReport Report, SiloAddress[] Silos);

    public Task ReportAsync(ModelWorkersReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        _models[report.Model] = new Entry(report, report.WorkerSilos.Select(SiloAddress.FromParsableString).ToArray());
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ClusterModel>> GetModelsAsync()
    {
        var snapshot = membership.CurrentSnapshot;
        IReadOnlyList<ClusterModel> list = _models.Values
            .OrderBy(e => e.Report.Model, StringComparer.Ordinal)
            .Select(e => ToModel(e, snapshot))
            .ToList();
        return Task.FromResult(list);
    }

    public Task<ClusterModel?> FindAsync(string model) =>
        Task.FromResult(_models.TryGetValue(model, out var e) ? ToModel(e, membership.CurrentSnapshot) : null);

    private static ClusterModel ToModel(Entry e, ClusterMembershipSnapshot snapshot)
    {
        var live = 0;
        foreach (var silo in e.Silos)
        {
            // A silo this view does not list yet (None) has just joined: its workers registered, so count them.
            if (snapshot.GetSiloStatus(silo) is not (SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping)) live++;
        }
        return new ClusterModel(e.Report.Model, e.Report.MaxModelLength, e.Report.Device, live);
    }
}
