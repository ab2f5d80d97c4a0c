using System.Net;
using Xunit;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// Three silo processes with Redis membership on this machine; one is killed with SIGKILL. The others must keep
/// serving, and the cluster must declare the dead one within seconds.
/// </summary>
[Trait("Category", "Chaos")]
[Collection(ExternalClusterCollection.Name)]
public sealed class SiloKillTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Killed_silo_leaves_membership_and_the_others_keep_serving()
    {
        await using var redis = await RedisServer.StartAsync(cancellationToken: Ct);
        var clusterId = "kill-" + Guid.NewGuid().ToString("N")[..8];
        await using var silos = await SiloGroup.StartAsync(3,
            i => SiloProcessOptions.OnLoopback($"silo{i}", redis.ConnectionString, clusterId), Ct);

        // Every silo serves a completion through its own HTTP API.
        foreach (var silo in silos.Silos)
        {
            await AssertServesAsync(silo.HttpAddress, silo.Name);
        }
        var serviceId = silos.Silos[0].Options.ServiceId;
        await RedisMembershipTable.WaitForActiveAsync(redis.ConnectionString, serviceId, clusterId,
            silos.Silos.Select(s => s.SiloEndpoint).ToList(), TimeSpan.FromSeconds(30), Ct);

        var victim = silos.Silos[1];
        victim.Kill();
        var survivors = silos.Silos.Where(s => s != victim).ToList();
        var declaredDeadAfter = await RedisMembershipTable.WaitForActiveAsync(redis.ConnectionString, serviceId, clusterId,
            survivors.Select(s => s.SiloEndpoint).ToList(), TimeSpan.FromSeconds(15), Ct);
        TestContext.Current.SendDiagnosticMessage($"{victim.Name} left membership {declaredDeadAfter.TotalSeconds:F1} s after SIGKILL");

        // Several requests per survivor, so that placement has every chance to pick the dead silo's worker.
        foreach (var silo in survivors)
        {
            for (var i = 0; i < 3; i++)
            {
                await AssertServesAsync(silo.HttpAddress, $"{silo.Name} after {victim.Name} was killed");
            }
        }
        Assert.True(victim.HasExited);
    }

    internal static async Task AssertServesAsync(Uri silo, string what)
    {
        var result = await CompletionProbe.CompleteAsync(silo, "The capital of France is", 4, Ct);
        Assert.True(result.Status == HttpStatusCode.OK, $"{what}: HTTP {(int)result.Status} {result.Body}");
        Assert.Equal(4, result.CompletionTokens);
        Assert.False(string.IsNullOrEmpty(result.Text), $"{what}: empty completion");
    }
}
