using System.Net;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

[Collection(SiloCollection.Name)]
public sealed class ObservabilityTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dashboard_is_served()
    {
        using var response = await silo.Http.GetAsync("/dashboard", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("<html", await response.Content.ReadAsStringAsync(Ct), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Metrics_show_time_to_first_token_after_a_request()
    {
        // The request grains' TTFT, and the HTTP layer's own (from the request's arrival). Metrics are collected apart
        // from the request path (one CI run's scrape right after the response lacked the grain's TTFT, which a local run
        // never showed), so a few more requests and scrapes are allowed before it counts as missing.
        string[] expected =
        [
            "orleans_inference_time_to_first_token_seconds_bucket",
            "orleans_inference_http_time_to_first_token_seconds_bucket",
            "orleans_inference_http_inter_token_latency_seconds_bucket",
            "orleans_inference_e2e_request_latency_seconds_count",
            "orleans_inference_http_requests_total",
        ];
        string[] missing = expected;
        for (var attempt = 0; attempt < 20 && missing.Length > 0; attempt++)
        {
            if (attempt > 0)
            {
                await Task.Delay(250, Ct);
            }
            using var completion = await Json.PostAsync(silo.Http, "/v1/completions", """{"prompt":"metrics","max_tokens":2}""", Ct);
            Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
            var metrics = await silo.Http.GetStringAsync("/metrics", Ct);
            missing = [.. expected.Where(name => !metrics.Contains(name, StringComparison.Ordinal))];
        }
        Assert.Empty(missing);
    }

    [Fact]
    public async Task Our_metrics_are_exported_under_exactly_these_names()
    {
        using var completion = await Json.PostAsync(silo.Http, "/v1/completions", """{"prompt":"metric names","max_tokens":3}""", Ct);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);

        var metrics = await silo.Http.GetStringAsync("/metrics", Ct);
        var families = metrics.Split('\n')
            .Where(l => l.StartsWith("# TYPE orleans_inference", StringComparison.Ordinal))
            .Select(l => l.Split(' '))
            .ToDictionary(p => p[2], p => p[3]);
        var expected = new Dictionary<string, string>
        {
            // Request grains and engines (meter OrleansInference, Grains).
            ["orleans_inference_time_to_first_token_seconds"] = "histogram",
            ["orleans_inference_inter_token_latency_seconds"] = "histogram",
            ["orleans_inference_placements_total"] = "counter",
            ["orleans_inference_requests_waiting"] = "gauge",
            ["orleans_inference_kv_cache_usage_ratio"] = "gauge",
            ["orleans_inference_prefix_cache_hits_total"] = "counter",
            ["orleans_inference_prefix_cache_queries_total"] = "counter",
            // The HTTP layer.
            ["orleans_inference_http_time_to_first_token_seconds"] = "histogram",
            ["orleans_inference_http_inter_token_latency_seconds"] = "histogram",
            ["orleans_inference_e2e_request_latency_seconds"] = "histogram",
            ["orleans_inference_prompt_tokens_total"] = "counter",
            ["orleans_inference_generation_tokens_total"] = "counter",
            ["orleans_inference_http_requests_total"] = "counter",
        };
        // Migrations and recoveries are exported once one has happened; their names are fixed all the same.
        if (families.TryGetValue("orleans_inference_migrations_total", out var migrations))
        {
            Assert.Equal("counter", migrations);
            families.Remove("orleans_inference_migrations_total");
        }
        if (families.TryGetValue("orleans_inference_recovery_time_seconds", out var recovery))
        {
            Assert.Equal("histogram", recovery);
            families.Remove("orleans_inference_recovery_time_seconds");
        }
        Assert.Equal(expected.OrderBy(e => e.Key), families.OrderBy(f => f.Key));
    }
}
