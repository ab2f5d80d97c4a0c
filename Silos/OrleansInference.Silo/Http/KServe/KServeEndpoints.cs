namespace OrleansInference.Silo.Http.KServe;

/// <summary>Registers and maps the KServe V2 (Open Inference Protocol) API under <c>/v2</c>.</summary>
internal static class KServeEndpoints
{
    public static void AddKServeApi(this IServiceCollection services)
    {
        services.AddSingleton<KServeHealthEndpoint>();
        services.AddSingleton<KServeInferEndpoint>();
        services.AddSingleton<KServeGenerateEndpoint>();
    }

    public static void MapKServeApi(this IEndpointRouteBuilder endpoints)
    {
        var v2 = endpoints.MapGroup("/v2");
        v2.MapGet("", (KServeHealthEndpoint e) => e.Server());
        v2.MapGet("/health/live", (KServeHealthEndpoint e) => e.Live());
        v2.MapGet("/health/ready", (HttpContext context, KServeHealthEndpoint e) => e.ReadyAsync(context.RequestAborted));
        v2.MapGet("/models/{name}", (HttpContext context, string name, KServeHealthEndpoint e) => e.ModelAsync(name, context.RequestAborted));
        v2.MapGet("/models/{name}/ready", (HttpContext context, string name, KServeHealthEndpoint e) => e.ModelReadyAsync(name, context.RequestAborted));
        v2.MapPost("/models/{name}/infer", (HttpContext context, string name, KServeInferEndpoint e) => e.HandleAsync(context, name));
        v2.MapPost("/models/{name}/generate", (HttpContext context, string name, KServeGenerateEndpoint e) => e.HandleAsync(context, name, stream: false));
        v2.MapPost("/models/{name}/generate_stream", (HttpContext context, string name, KServeGenerateEndpoint e) => e.HandleAsync(context, name, stream: true));
    }
}
