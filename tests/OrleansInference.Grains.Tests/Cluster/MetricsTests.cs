using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>The meter's instruments are fed by requests, placements and the engines' loads.</summary>
public sealed class MetricsTests(InferenceClusterFixture fixture) : IClassFixture<InferenceClusterFixture>
{
    [Fact]
    public async Task RequestsRecordLatencyPlacementsAndEngineGauges()
    {
        var measurements = new ConcurrentBag<(string Name, double Value, string? Policy)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == InferenceMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? policy = null;
            foreach (var t in tags) if (t.Key == "policy") policy = t.Value as string;
            measurements.Add((i.Name, v, policy));
        }
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();

        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            PromptTokenIds = InferenceClusterFixture.PromptIds(21, 48),
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 6, IgnoreEos = true },
        };
        await foreach (var _ in fixture.Client.GetGrain<IRequestGrain>("metrics-1").GenerateAsync(request, null, TestContext.Current.CancellationToken))
        {
        }
        listener.RecordObservableInstruments();

        var names = measurements.Select(m => m.Name).ToHashSet();
        Assert.Contains(measurements, m => m.Name == "orleans_inference.time_to_first_token" && m.Value > 0 && m.Value < 30);
        Assert.Contains(measurements, m => m.Name == "orleans_inference.inter_token_latency" && m.Value >= 0);
        Assert.Contains(measurements, m => m.Name == "orleans_inference.placements" && m.Policy == "cache-aware");
        Assert.Contains("orleans_inference.requests_waiting", names);
        Assert.Contains("orleans_inference.kv_cache_usage_ratio", names);
        Assert.Contains(measurements, m => m.Name == "orleans_inference.prefix_cache_queries" && m.Value >= 48);
        Assert.Contains("orleans_inference.prefix_cache_hits", names);
    }
}
