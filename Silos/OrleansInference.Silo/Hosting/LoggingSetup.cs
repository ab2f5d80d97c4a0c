using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace OrleansInference.Silo.Hosting;

/// <summary>
/// Serilog to the console, configured by the <c>Serilog</c> section. <c>writeToProviders</c> forwards events to other
/// logger providers too, which is how the Orleans dashboard's live log receives them.
/// </summary>
internal static class LoggingSetup
{
    /// <summary>Set <c>Logging:Json=true</c> for one compact JSON object per line (log shippers).</summary>
    public const string JsonKey = "Logging:Json";

    public static void AddInferenceLogging(this WebApplicationBuilder builder)
    {
        var json = builder.Configuration.GetValue<bool>(JsonKey);
        builder.Logging.ClearProviders();
        builder.Services.AddSerilog((services, logger) =>
        {
            logger
                .MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
                .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
                .MinimumLevel.Override("Orleans", LogEventLevel.Warning)
                .MinimumLevel.Override("Polly", LogEventLevel.Warning)
                .ReadFrom.Configuration(builder.Configuration)
                .Enrich.FromLogContext();
            if (json)
            {
                logger.WriteTo.Console(new RenderedCompactJsonFormatter());
            }
            else
            {
                logger.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}");
            }
        }, writeToProviders: true);
    }
}
