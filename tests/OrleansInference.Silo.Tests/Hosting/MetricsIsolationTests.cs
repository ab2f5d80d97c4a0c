using System.Net;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Hosting;

/// <summary>
/// Two silo hosts in one process (tests, or an application embedding silos) each export their own instruments:
/// stopping one must not take the other's metrics with it.
/// </summary>
public sealed class MetricsIsolationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_silo_keeps_exporting_its_metrics_after_another_silo_in_the_process_stops()
    {
        var clusterA = "metrics-a-" + Guid.NewGuid().ToString("N")[..8];
        var clusterB = "metrics-b-" + Guid.NewGuid().ToString("N")[..8];
        // The silo that stops is the older one: its instruments exist before the other silo's metrics pipeline starts.
        var b = await RunningSilo.StartAsync(clusterB, [], Ct);
        await CompleteAsync(b);
        await using var a = await RunningSilo.StartAsync(clusterA, [], Ct);
        await CompleteAsync(a);
        await b.StopAsync();
        await b.DisposeAsync();

        await CompleteAsync(a);
        var metrics = await a.Http.GetStringAsync("/metrics", Ct);
        Assert.Contains("orleans_inference_time_to_first_token_seconds_bucket", metrics);
        Assert.Contains("orleans_inference_http_time_to_first_token_seconds_bucket", metrics);
    }

    private static async Task CompleteAsync(RunningSilo silo)
    {
        using var response = await Json.PostAsync(silo.Http, "/v1/completions", """{"model":"builtin","prompt":"metrics","max_tokens":2}""", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
