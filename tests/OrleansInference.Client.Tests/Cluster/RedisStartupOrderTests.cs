using System.Globalization;
using System.Net;
using OrleansInference.Tests.Shared;
using Xunit;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// Redis and the silos may start in any order: a silo started before its Redis waits for it (a compose cluster whose
/// runtime does not gate the silos on Redis' health check lost a silo to exactly this), and one whose Redis never
/// comes exits with an error that names it.
/// </summary>
[Collection(ExternalClusterCollection.Name)]
public sealed class RedisStartupOrderTests
{
    private static CancellationToken Timeout => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_silo_started_before_its_Redis_waits_for_it_then_serves()
    {
        int port = FreeTcpPorts.Take(1)[0];
        var options = SiloProcessOptions.OnLoopback("silo1", $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}", "redis-late-" + Guid.NewGuid().ToString("N"));
        await using var silo = SiloProcess.Launch(options);

        // Nothing listens on the port yet: the silo keeps trying instead of exiting.
        await Eventually.TrueAsync(() => Task.FromResult(silo.ReadLog().Contains("Waiting for Redis at", StringComparison.Ordinal) || silo.HasExited),
            "the silo logs that it waits for Redis", Timeout, 60, () => silo.LogTail(20));
        await Task.Delay(TimeSpan.FromSeconds(2), Timeout);
        Assert.False(silo.HasExited, $"the silo exited before Redis started: {silo.LogTail(40)}");

        await using var redis = await RedisServer.StartAsync(cancellationToken: Timeout, port: port);
        await silo.WaitUntilReadyAsync(TimeSpan.FromMinutes(2), Timeout);
        Assert.Contains("answered after", silo.ReadLog(), StringComparison.Ordinal);
        var completion = await CompletionProbe.CompleteAsync(silo.HttpAddress, "Hello", 4, Timeout);
        Assert.Equal(HttpStatusCode.OK, completion.Status);
        Assert.Equal(4, completion.CompletionTokens);
    }

    [Fact]
    public async Task A_silo_whose_Redis_never_answers_exits_naming_it()
    {
        int port = FreeTcpPorts.Take(1)[0];
        string redis = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        var options = SiloProcessOptions.OnLoopback("silo1", redis, "redis-absent-" + Guid.NewGuid().ToString("N"));
        options = options with { Settings = new Dictionary<string, string>(options.Settings) { ["Orleans:RedisStartupTimeout"] = "00:00:03" } };
        await using var silo = SiloProcess.Launch(options);

        await Eventually.TrueAsync(() => Task.FromResult(silo.HasExited), "the silo exits", Timeout, 90, () => silo.LogTail(20));
        Assert.Equal(3, silo.ExitCode);
        string log = silo.ReadLog();
        Assert.Contains($"error: Redis at {redis} (Orleans:Redis) did not answer within 3 s", log, StringComparison.Ordinal);
        Assert.Contains("Waiting for Redis at", log, StringComparison.Ordinal);
    }
}
