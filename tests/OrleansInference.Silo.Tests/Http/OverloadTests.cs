using System.Net;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>A silo whose engine runs one sequence and queues one more.</summary>
public sealed class TinyQueueSiloFixture : SiloFixture
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings =>
    [
        new("Inference:Engine:MaxRunningSequences", "1"),
        new("Inference:Engine:MaxQueuedRequests", "1"),
        new("Http:RetryAfterSeconds", "2"),
    ];
}

public sealed class OverloadTests(TinyQueueSiloFixture silo) : IClassFixture<TinyQueueSiloFixture>
{
    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        var ct = TestContext.Current.CancellationToken;
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Json.PostAsync(silo.Http, "/v1/completions",
            $$"""{"prompt":"flood {{i}}","max_tokens":128,"ignore_eos":true}""", ct)));
        try
        {
            var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            Assert.NotEmpty(refused);
            Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.OK, HttpStatusCode.TooManyRequests }));
            Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
            foreach (var r in refused)
            {
                Assert.Equal(TimeSpan.FromSeconds(2), r.Headers.RetryAfter?.Delta);
                var error = (await Json.ReadAsync(r, ct)).GetProperty("error");
                Assert.Equal("rate_limit_error", error.GetProperty("type").GetString());
            }
        }
        finally
        {
            foreach (var r in responses)
            {
                r.Dispose();
            }
        }
    }
}
