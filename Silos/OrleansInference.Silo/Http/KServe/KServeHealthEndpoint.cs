using Microsoft.Extensions.Options;
using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>Liveness, readiness and metadata of the server and its models (served here or by other silos).</summary>
internal sealed class KServeHealthEndpoint(ModelResolver models, IOptions<InferenceOptions> inference)
{
    private static readonly string ServerVersion =
        typeof(KServeHealthEndpoint).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public IResult Server() => Results.Json(new ServerMetadataDto(KServeModels.Platform, ServerVersion, ["generate"]),
        KServeJsonContext.Default.ServerMetadataDto);

    public IResult Live() => Results.Json(new LiveDto(true), KServeJsonContext.Default.LiveDto);

    /// <summary>
    /// A silo with engines is ready once they have loaded their model; a silo without engines (a router) once some
    /// silo of the cluster has a live worker it can send requests to.
    /// </summary>
    public async Task<IResult> ReadyAsync(CancellationToken ct)
    {
        var ready = inference.Value.WorkersPerSilo > 0
            ? models.Local.Count > 0
            : await models.ClusterHasLiveModelAsync(ct);
        return Results.Json(new ReadyDto(ready), KServeJsonContext.Default.ReadyDto,
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    public async Task<IResult> ModelAsync(string name, CancellationToken ct) =>
        Results.Json(KServeModels.Metadata(await KServeModels.ResolveAsync(models, name, ct)), KServeJsonContext.Default.ModelMetadataDto);

    /// <summary>200 with <c>ready: true</c>; 503 with <c>ready: false</c> when the model's workers are all gone; 404 when no silo serves it.</summary>
    public async Task<IResult> ModelReadyAsync(string name, CancellationToken ct)
    {
        var ready = await models.IsLiveAsync(name, ct);
        return Results.Json(new ModelReadyDto(name, ready), KServeJsonContext.Default.ModelReadyDto,
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
