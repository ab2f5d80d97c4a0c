using System.Diagnostics.Metrics;
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
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(OrleansMeterName, InferenceHttpMetrics.MeterName)
                // Scrapes are cheap; a cache would hide a request's metrics from a scrape right after it.
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            // Meters made by another host's IMeterFactory in this process (several silos in one test process, or an
            // application hosting more than one) belong to that host's pipeline: taken in here, OpenTelemetry treats
            // their instruments as duplicates of this host's (same names) and what this host exports then depends on
            // the other hosts' lifetimes (a CI run's /metrics lacked every family of ours while other silos of the
            // test process came and went). Orleans' own meter is process-wide (no scope) and stays.
            ((IDeferredMeterProviderBuilder)metrics).Configure((sp, builder) =>
            {
                var own = sp.GetRequiredService<IMeterFactory>();
                builder.AddView(instrument => instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, own)
                    ? null
                    : MetricStreamConfiguration.Drop);
            });
        });
    }

    public static void MapInferenceMetrics(this IEndpointRouteBuilder endpoints) => endpoints.MapPrometheusScrapingEndpoint("/metrics");
}
