using System.Diagnostics.Metrics;

namespace OrleansInference.Silo.Metrics;

/// <summary>
/// Request latency and token counts as the HTTP API's clients see them, on the meter <c>OrleansInference</c>. Exported
/// by Prometheus as <c>orleans_inference_http_time_to_first_token_seconds</c>, <c>..._http_inter_token_latency_seconds</c>,
/// <c>..._e2e_request_latency_seconds</c>, <c>..._prompt_tokens_total</c>, <c>..._generation_tokens_total</c> and
/// <c>..._http_requests_total</c>. The unprefixed <c>orleans_inference_time_to_first_token_seconds</c> and
/// <c>..._inter_token_latency_seconds</c> belong to the request grains (measured from the grain); one Prometheus name
/// must not come from two instruments.
/// </summary>
public sealed class InferenceHttpMetrics
{
    /// <summary>Meter name (also used by the grains and engine metrics).</summary>
    public const string MeterName = "OrleansInference";

    private static readonly double[] LatencyBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

    private static readonly double[] TokenGapBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10];

    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _interTokenLatency;
    private readonly Histogram<double> _e2eLatency;
    private readonly Counter<long> _promptTokens;
    private readonly Counter<long> _generationTokens;
    private readonly Counter<long> _requests;

    /// <summary>Creates the instruments on the host's meter factory.</summary>
    public InferenceHttpMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _timeToFirstToken = meter.CreateHistogram<double>("orleans_inference.http.time_to_first_token", "s",
            "Time from receiving a request to its first output token.", advice: new() { HistogramBucketBoundaries = LatencyBuckets });
        _interTokenLatency = meter.CreateHistogram<double>("orleans_inference.http.inter_token_latency", "s",
            "Time between consecutive output tokens of a request.", advice: new() { HistogramBucketBoundaries = TokenGapBuckets });
        _e2eLatency = meter.CreateHistogram<double>("orleans_inference.e2e_request_latency", "s",
            "Time from receiving a request to its last output token.", advice: new() { HistogramBucketBoundaries = LatencyBuckets });
        _promptTokens = meter.CreateCounter<long>("orleans_inference.prompt_tokens", "{token}", "Prompt tokens of finished requests.");
        _generationTokens = meter.CreateCounter<long>("orleans_inference.generation_tokens", "{token}", "Output tokens of finished requests.");
        _requests = meter.CreateCounter<long>("orleans_inference.http.requests", "{request}", "API requests by endpoint and status code.");
    }

    /// <summary>Records the first token's latency.</summary>
    public void TimeToFirstToken(string model, TimeSpan elapsed) =>
        _timeToFirstToken.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", model));

    /// <summary>Records the gap before each of <paramref name="tokens"/> tokens that arrived together.</summary>
    public void InterTokenLatency(string model, TimeSpan gap, int tokens)
    {
        if (tokens <= 0)
        {
            return;
        }
        var perToken = gap.TotalSeconds / tokens;
        var tag = new KeyValuePair<string, object?>("model", model);
        for (var i = 0; i < tokens; i++)
        {
            _interTokenLatency.Record(perToken, tag);
        }
    }

    /// <summary>Records a finished request's latency and token counts.</summary>
    public void Finished(string model, TimeSpan elapsed, int promptTokens, int completionTokens)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _e2eLatency.Record(elapsed.TotalSeconds, tag);
        _promptTokens.Add(promptTokens, tag);
        _generationTokens.Add(completionTokens, tag);
    }

    /// <summary>Counts an API request by endpoint and status.</summary>
    public void Request(string endpoint, int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("status", status));
}
