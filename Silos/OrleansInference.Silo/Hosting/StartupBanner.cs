using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Silo.Hosting;

/// <summary>Logs, once the host has started, where the APIs listen and which model is served.</summary>
internal sealed partial class StartupBanner(IServer server, IModelCatalog catalog, IConfiguration configuration, ILogger<StartupBanner> logger)
{
    public void Log()
    {
        var urls = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [];
        var first = urls.FirstOrDefault() ?? "(no HTTP address)";
        var models = catalog.Models;
        LogListening(logger, string.Join(", ", urls), first);
        foreach (var model in models)
        {
            LogModel(logger, model.Id, model.Device, model.MaxModelLength);
        }
        if (models.Count == 0)
        {
            LogNoModel(logger);
        }
        var source = configuration[SiloCommandLine.ModelKey] ?? "builtin";
        if (string.Equals(source, "builtin", StringComparison.OrdinalIgnoreCase))
        {
            LogBuiltin(logger);
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "OrleansInference silo listening on {Urls}: OpenAI API {Url}/v1, KServe V2 {Url}/v2, dashboard {Url}/dashboard, metrics {Url}/metrics")]
    private static partial void LogListening(ILogger logger, string urls, string url);

    [LoggerMessage(Level = LogLevel.Information, Message = "Serving model {Model} on {Device} (context length {MaxModelLength})")]
    private static partial void LogModel(ILogger logger, string model, string device, int maxModelLength);

    [LoggerMessage(Level = LogLevel.Warning, Message = "This silo serves no model (yet); requests are placed on other silos")]
    private static partial void LogNoModel(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "The built-in model has random weights: its output is meaningless random text. Pass --model <Hugging Face model directory> to serve a real model")]
    private static partial void LogBuiltin(ILogger logger);
}
