namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>Registers and maps the OpenAI-compatible API under <c>/v1</c>.</summary>
internal static class OpenAiEndpoints
{
    public static void AddOpenAiApi(this IServiceCollection services)
    {
        services.AddSingleton<CompletionsEndpoint>();
        services.AddSingleton<ChatCompletionsEndpoint>();
        services.AddSingleton<ModelsEndpoint>();
    }

    public static void MapOpenAiApi(this IEndpointRouteBuilder endpoints)
    {
        var v1 = endpoints.MapGroup("/v1");
        v1.MapGet("/models", (HttpContext context, ModelsEndpoint e) => e.ListAsync(context.RequestAborted));
        v1.MapGet("/models/{model}", (HttpContext context, string model, ModelsEndpoint e) => e.GetAsync(model, context.RequestAborted));
        v1.MapPost("/completions", (HttpContext context, CompletionsEndpoint e) => e.HandleAsync(context));
        v1.MapPost("/chat/completions", (HttpContext context, ChatCompletionsEndpoint e) => e.HandleAsync(context));
    }
}
