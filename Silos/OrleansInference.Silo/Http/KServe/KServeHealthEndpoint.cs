using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>Liveness, readiness and metadata of the server and its models.</summary>
internal sealed class KServeHealthEndpoint(ModelResolver models)
{
    private static readonly string ServerVersion =
        typeof(KServeHealthEndpoint).Assembly.GetName().Version?.ToString() ?? "0.0.0";

    public IResult Server() => Results.Json(new ServerMetadataDto(KServeModels.Platform, ServerVersion, ["generate"]),
        KServeJsonContext.Default.ServerMetadataDto);

    public IResult Live() => Results.Json(new LiveDto(true), KServeJsonContext.Default.LiveDto);

    /// <summary>Ready once this silo's engine has loaded its model and registered it.</summary>
    public IResult Ready()
    {
        var ready = models.Models.Count > 0;
        return Results.Json(new ReadyDto(ready), KServeJsonContext.Default.ReadyDto,
            statusCode: ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    public IResult Model(string name) =>
        Results.Json(KServeModels.Metadata(KServeModels.Resolve(models, name)), KServeJsonContext.Default.ModelMetadataDto);

    public IResult ModelReady(string name)
    {
        var model = KServeModels.Resolve(models, name);
        return Results.Json(new ModelReadyDto(model.Id, true), KServeJsonContext.Default.ModelReadyDto);
    }
}
