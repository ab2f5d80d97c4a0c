using OpenTelemetry.Metrics;

namespace OrleansInference.Silo.Metrics;

/// <summary>OpenTelemetry metrics with a Prometheus scrape endpoint at <c>/metrics</c>.</summary>
internal static class MetricsSetup
{
    /// <summary>Orleans' own meter.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    public static void AddInferenceMetrics(this IServiceCollection services)
    {
        services.AddSingleton<InferenceHttpMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(OrleansMeterName, InferenceHttpMetrics.MeterName)
            // Scrapes are cheap; a cache would hide a request's metrics from a scrape right after it.
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
    }

    public static void MapInferenceMetrics(this IEndpointRouteBuilder endpoints) => endpoints.MapPrometheusScrapingEndpoint("/metrics");
}
