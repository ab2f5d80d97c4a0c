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
        using var completion = await Json.PostAsync(silo.Http, "/v1/completions", """{"prompt":"metrics","max_tokens":2}""", Ct);
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);

        var metrics = await silo.Http.GetStringAsync("/metrics", Ct);
        // The request grains' TTFT, and the HTTP layer's own (from the request's arrival).
        Assert.Contains("orleans_inference_time_to_first_token_seconds_bucket", metrics);
        Assert.Contains("orleans_inference_http_time_to_first_token_seconds_bucket", metrics);
        Assert.Contains("orleans_inference_http_inter_token_latency_seconds_bucket", metrics);
        Assert.Contains("orleans_inference_e2e_request_latency_seconds_count", metrics);
        Assert.Contains("orleans_inference_http_requests_total", metrics);
    }
}
