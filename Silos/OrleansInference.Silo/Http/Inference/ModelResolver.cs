using Microsoft.Extensions.Options;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;
using OrleansInference.Grains.Models;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// Resolves the <c>model</c> of a request: first among the models this silo serves (no grain call: the ordinary path
/// costs nothing extra), then among those other silos of the cluster serve (<see cref="ClusterModelDirectory"/>). A
/// request for a model served elsewhere runs as any other: its request grain, here, has it tokenized and checked by a
/// worker of that model and placed by its conductor; text and stop strings come from that worker's engine.
/// </summary>
internal sealed partial class ModelResolver(
    IModelCatalog catalog, ClusterModelDirectory cluster, IGrainFactory grains, IOptions<HttpApiOptions> options, ILogger<ModelResolver> logger)
{
    /// <summary>Models this silo serves itself.</summary>
    public IReadOnlyList<ServedModel> Local => catalog.Models;

    /// <summary>
    /// The model named <paramref name="requested"/>; this silo's first model (else the cluster's first live one) when
    /// none is named. 404 for a model no silo serves, 503 for one whose workers are all gone.
    /// </summary>
    public ValueTask<ServedModel> ResolveAsync(string? requested, CancellationToken ct)
    {
        var local = catalog.Models;
        if (string.IsNullOrEmpty(requested))
        {
            return local.Count > 0 ? ValueTask.FromResult(local[0]) : new ValueTask<ServedModel>(DefaultFromClusterAsync(ct));
        }
        return FindLocal(requested) is { } model
            ? ValueTask.FromResult(model)
            : new ValueTask<ServedModel>(ResolveInClusterAsync(requested, ct));
    }

    /// <summary>Models this silo serves, then the live models of other silos.</summary>
    public async Task<IReadOnlyList<ServedModel>> ListAsync(CancellationToken ct)
    {
        var list = new List<ServedModel>(catalog.Models);
        // When the registry cannot be read, the list of this silo's own models is still right; the log says why the
        // rest is missing.
        foreach (var m in await TryGetLiveClusterModelsAsync(ct) ?? [])
        {
            if (!list.Any(l => string.Equals(l.Id, m.Id, StringComparison.Ordinal)))
            {
                list.Add(ToServed(m));
            }
        }
        return list;
    }

    /// <summary>Whether any silo of the cluster has a live worker of some model (false when the registry cannot be read).</summary>
    public async Task<bool> ClusterHasLiveModelAsync(CancellationToken ct) => (await TryGetLiveClusterModelsAsync(ct))?.Count > 0;

    /// <summary>
    /// Whether <paramref name="name"/> has a live worker now: served here, or live in the registry; for a model the
    /// registry does not list at the moment, its conductor is asked. 404 for a model no silo serves.
    /// </summary>
    public async Task<bool> IsLiveAsync(string name, CancellationToken ct)
    {
        if (FindLocal(name) is not null)
        {
            return true;
        }
        var lookup = await cluster.FindAsync(name, ct);
        return lookup.State switch
        {
            ClusterModelState.Unknown => throw new ApiRequestException(ApiProblem.ModelNotFound(name)),
            ClusterModelState.Live => true,
            ClusterModelState.Down => false,
            _ => (await grains.GetGrain<IConductorGrain>(name).GetWorkersAsync().WaitAsync(ct)).Count > 0,
        };
    }

    private async Task<ServedModel> ResolveInClusterAsync(string requested, CancellationToken ct)
    {
        var lookup = await cluster.FindAsync(requested, ct);
        return lookup.State switch
        {
            ClusterModelState.Unknown => throw new ApiRequestException(ApiProblem.ModelNotFound(requested)),
            ClusterModelState.Down => throw new ApiRequestException(ApiProblem.ModelUnavailable(requested, options.Value.RetryAfterSeconds)),
            // Unlisted: the registry forgot it for now; its conductor decides (serves it, or answers that it is down).
            _ => ToServed(lookup.Model!),
        };
    }

    private async Task<ServedModel> DefaultFromClusterAsync(CancellationToken ct)
    {
        var live = await cluster.GetLiveModelsAsync(ct);
        return live.Count > 0
            ? ToServed(live[0])
            : throw new ApiRequestException(new ApiProblem(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "unavailable",
                "No model is served by this cluster yet.", RetryAfterSeconds: options.Value.RetryAfterSeconds));
    }

    private ServedModel? FindLocal(string name) => catalog.Models.FirstOrDefault(m => string.Equals(m.Id, name, StringComparison.Ordinal));

    /// <summary>The cluster's live models; null (and a warning logged) when the registry cannot be read.</summary>
    private async Task<IReadOnlyList<ClusterModel>?> TryGetLiveClusterModelsAsync(CancellationToken ct)
    {
        try
        {
            return await cluster.GetLiveModelsAsync(ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            LogClusterModelsFailed(logger, ex);
            return null;
        }
    }

    private static ServedModel ToServed(ClusterModel m) => new(m.Id, m.MaxModelLength, m.Device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not read the cluster's model list; listing this silo's models only")]
    private static partial void LogClusterModelsFailed(ILogger logger, Exception exception);
}
