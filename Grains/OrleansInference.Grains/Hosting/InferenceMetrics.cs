using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using OrleansInference.Native;

namespace OrleansInference.Grains.Hosting;

/// <summary>
/// The control plane's instruments on meter <c>OrleansInference</c>: latency histograms recorded by request grains,
/// counters of placements and migrations, and gauges/counters observed from this silo's engines. Prometheus names:
/// <c>orleans_inference_time_to_first_token_seconds</c>, <c>..._inter_token_latency_seconds</c>,
/// <c>..._placements_total</c>, <c>..._migrations_total</c>, <c>..._requests_waiting</c>,
/// <c>..._kv_cache_usage_ratio</c>, <c>..._prefix_cache_hits_total</c> and <c>..._prefix_cache_queries_total</c>
/// (both in prompt tokens, as vLLM's).
/// </summary>
public sealed class InferenceMetrics
{
    /// <summary>Meter name.</summary>
    public const string MeterName = "OrleansInference";

    private readonly ConcurrentDictionary<string, (string Model, Func<EngineLoad> Load)> _engines = new(StringComparer.Ordinal);
    private readonly Histogram<double> _ttft;
    private readonly Histogram<double> _itl;
    private readonly Counter<long> _placements;
    private readonly Counter<long> _migrations;
    private readonly Histogram<double> _recovery;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>.</summary>
    public InferenceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        // OpenTelemetry names with the unit apart: Prometheus' exporter appends the unit (s → _seconds) and _total to
        // counters itself, so a name that already ends in them would come out doubled (..._total_tokens_total).
        _ttft = meter.CreateHistogram<double>("orleans_inference.time_to_first_token", "s", "Time from request start to its first token.");
        _itl = meter.CreateHistogram<double>("orleans_inference.inter_token_latency", "s", "Time between consecutive output tokens of a sample.");
        _placements = meter.CreateCounter<long>("orleans_inference.placements", "{placement}", "Requests placed on workers, by policy.");
        _migrations = meter.CreateCounter<long>("orleans_inference.migrations", "{migration}", "Requests moved to another worker after a failure.");
        _recovery = meter.CreateHistogram<double>("orleans_inference.recovery_time", "s",
            "Time from a failure being detected (worker call failed, or a request resumed after its grain's silo died) to the first token after it.");
        meter.CreateObservableGauge("orleans_inference.requests_waiting", () => Observe(l => (double)l.Waiting), "{request}", "Requests waiting in this silo's engines.");
        meter.CreateObservableGauge("orleans_inference.kv_cache_usage_ratio", () => Observe(l => l.KvUsage), description: "Fraction of KV blocks held by running sequences.");
        meter.CreateObservableCounter("orleans_inference.prefix_cache_hits", () => ObserveCount(l => l.PrefixHitTokens), "{token}", "Prompt tokens found in the prefix cache.");
        meter.CreateObservableCounter("orleans_inference.prefix_cache_queries", () => ObserveCount(l => l.PrefixQueryTokens), "{token}", "Prompt tokens looked up in the prefix cache.");
    }

    /// <summary>Records a time to first token.</summary>
    public void RecordTimeToFirstToken(string model, TimeSpan elapsed) =>
        _ttft.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>Records an inter-token latency.</summary>
    public void RecordInterTokenLatency(string model, double seconds) =>
        _itl.Record(seconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>Counts a placement.</summary>
    public void CountPlacement(string model, string policy) =>
        _placements.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("policy", policy));

    /// <summary>Counts a migration.</summary>
    public void CountMigration(string model) => _migrations.Add(1, new KeyValuePair<string, object?>("model", model));

    /// <summary>Records a recovery: failure detected → first token from the new worker.</summary>
    public void RecordRecoveryTime(string model, TimeSpan elapsed) =>
        _recovery.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>Adds an engine whose load the gauges observe.</summary>
    public void AddEngine(string workerId, string model, Func<EngineLoad> load) => _engines[workerId] = (model, load);

    /// <summary>Stops observing an engine.</summary>
    public void RemoveEngine(string workerId) => _engines.TryRemove(workerId, out _);

    private IEnumerable<Measurement<double>> Observe(Func<EngineLoad, double> value)
    {
        foreach (var (worker, (model, load)) in _engines)
        {
            yield return new Measurement<double>(value(load()), new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("worker", worker));
        }
    }

    private IEnumerable<Measurement<long>> ObserveCount(Func<EngineLoad, long> value)
    {
        foreach (var (worker, (model, load)) in _engines)
        {
            yield return new Measurement<long>(value(load()), new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("worker", worker));
        }
    }
}
