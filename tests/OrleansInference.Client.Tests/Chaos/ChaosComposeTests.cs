using System.Diagnostics;
using System.Net;
using OrleansInference.Client.Tests.Cluster;
using Xunit;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// The chaos run against docker-compose.yml brought up with podman-compose: the workload streams over HTTP SSE
/// through the ports the compose file publishes, while one silo container is SIGKILLed (<c>podman kill --signal
/// KILL</c>) and another is cut off its network (<c>podman network disconnect</c>) and reconnected. HTTP only: the
/// containers advertise their container addresses, which an SDK client outside the compose network cannot reach.
/// Same assertions as <see cref="ChaosProcessTests"/>.
/// </summary>
[Trait("Category", "Chaos")]
[Collection(ExternalClusterCollection.Name)]
public sealed class ChaosComposeTests
{
    private static readonly TimeSpan DeclaredDeadWithin = TimeSpan.FromSeconds(20);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_http_request_survives_a_killed_and_a_disconnected_container_token_for_token()
    {
        await using var cluster = await ComposeCluster.StartAsync(Ct);
        var requests = ChaosWorkload.Create(ChaosSettings.Requests, sdk: false);
        var reference = await ChaosReference.ComputeAsync(requests, Ct);
        await WaitForActiveAsync(cluster, ["silo1", "silo2", "silo3"], TimeSpan.FromSeconds(60));

        var killed = cluster.Silos[1];
        var cutOff = cluster.Silos[2];
        var result = await ChaosDriver.RunAsync(new ChaosRunSetup
        {
            Name = "compose",
            Requests = requests,
            Concurrency = ChaosSettings.Concurrency,
            HttpSilos = cluster.Silos.Select(s => s.HttpAddress).ToList(),
            Faults = async (progress, ct) =>
            {
                await progress.WhenCompletedAsync(0.15, ct);
                await cluster.KillAsync(killed, ct);
                progress.Note($"podman kill --signal KILL {killed.Container}");
                var dead = await WaitForActiveAsync(cluster, ["silo1", "silo3"], DeclaredDeadWithin);
                progress.Note($"{killed.Service} declared dead ({dead.TotalSeconds:F1} s after the kill)");
                await progress.WhenCompletedAsync(0.45, ct);
                await cluster.DisconnectAsync(cutOff, ct);
                progress.Note($"podman network disconnect {cutOff.Container}");
                dead = await WaitForActiveAsync(cluster, ["silo1"], DeclaredDeadWithin);
                progress.Note($"{cutOff.Service} declared dead ({dead.TotalSeconds:F1} s after the disconnect)");
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
                await cluster.ConnectAsync(cutOff, ct);
                progress.Note($"podman network connect {cutOff.Container}");
                // Declared dead, the silo ends itself once it hears so; its container is then started again.
                var clock = Stopwatch.StartNew();
                while (await cluster.IsRunningAsync(cutOff, ct) && clock.Elapsed < TimeSpan.FromSeconds(15))
                {
                    await Task.Delay(250, ct);
                }
                if (await cluster.IsRunningAsync(cutOff, ct))
                {
                    progress.Note($"{cutOff.Service} still runs after its reconnection: killed");
                    await cluster.KillAsync(cutOff, ct);
                }
                else
                {
                    progress.Note($"{cutOff.Service} ended itself ({clock.Elapsed.TotalSeconds:F1} s after the reconnection)");
                }
                await cluster.RestartAsync(cutOff, ct);
                await WaitForReadyAsync(cutOff.HttpAddress, TimeSpan.FromMinutes(2), ct);
                progress.Note($"{cutOff.Service} restarted and ready");
            },
        }, new(StringComparer.Ordinal), Ct);

        await RequestStatusProbe.FillMigrationsAsync(cluster.Silos[0].HttpAddress, result.Ledgers, Ct);
        var survivors = cluster.Silos.Where(s => s != killed).Select(s => (s.Service, s.HttpAddress)).ToList();
        var kv = await KvUsageProbe.WaitForIdleAsync(survivors, TimeSpan.FromSeconds(30), Ct);
        var report = ChaosReport.Create("compose", result.Ledgers, reference, result.Faults, result.WallSeconds,
            ["SDK clients: the containers advertise their container addresses, which a client outside the compose network cannot reach; HTTP only"]) with
        {
            KvAfterRun = kv,
            MigrationsCounted = kv.Sum(r => r.MigrationsTotal),
        };
        await ChaosVerdict.PublishAndAssertAsync(report);
    }

    private static async Task<TimeSpan> WaitForActiveAsync(ComposeCluster cluster, string[] expected, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> active;
        while (!(active = await cluster.ActiveSilosAsync()).SequenceEqual(expected))
        {
            Assert.True(clock.Elapsed < timeout, $"after {timeout} membership lists [{string.Join(", ", active)}] as active, not [{string.Join(", ", expected)}]");
            await Task.Delay(200, Ct);
        }
        return clock.Elapsed;
    }

    private static async Task WaitForReadyAsync(Uri silo, TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = silo, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var response = await http.GetAsync("v2/health/ready", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Still starting.
            }
            Assert.True(clock.Elapsed < timeout, $"{silo} was not ready within {timeout}");
            await Task.Delay(500, ct);
        }
    }
}
