using System.Net;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>The read-only admin endpoints chaos harnesses use: worker KV accounting and request status.</summary>
[Collection(SiloCollection.Name)]
public sealed class AdminApiTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Workers_and_request_status_report_blocks_and_migrations()
    {
        using var done = await Json.PostAsync(silo.Http, "/v1/completions",
            """{"prompt":"Count the blocks","max_tokens":40,"temperature":0,"ignore_eos":true}""", Ct, headers: [new("X-Request-Id", "admin-1")]);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);

        var workers = await Json.ReadAsync(await silo.Http.GetAsync("/admin/workers", Ct), Ct);
        Assert.False(string.IsNullOrEmpty(workers.GetProperty("silo").GetString()));
        var worker = Assert.Single(workers.GetProperty("workers").EnumerateArray());
        Assert.Equal("builtin", worker.GetProperty("model").GetString());
        Assert.Equal(256, worker.GetProperty("total_blocks").GetInt32());
        // Idle: nothing held by a sequence; the prompt's full blocks stay in the prefix cache (free-able).
        Assert.Equal(0, worker.GetProperty("used_blocks").GetInt32());
        Assert.Equal(0, worker.GetProperty("running").GetInt32());
        Assert.Equal(256, worker.GetProperty("free_blocks").GetInt32() + worker.GetProperty("cached_blocks").GetInt32());

        var status = await Json.ReadAsync(await silo.Http.GetAsync("/admin/requests/admin-1", Ct), Ct);
        Assert.Equal("Finished", status.GetProperty("state").GetString());
        Assert.Equal(40, status.GetProperty("delivered_tokens")[0].GetInt32());
        Assert.Equal("Length", status.GetProperty("finish_reasons")[0].GetString());
        Assert.Equal(0, status.GetProperty("migrations").GetInt32());
        Assert.Equal(0, status.GetProperty("recovery_times_ms").GetArrayLength());

        using var bad = await silo.Http.GetAsync("/admin/requests/bad%20id", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }
}
