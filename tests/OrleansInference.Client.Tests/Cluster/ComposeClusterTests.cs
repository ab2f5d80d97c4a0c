using Xunit;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// docker-compose.yml brought up with podman-compose: each silo container serves a completion on its published port;
/// one container is killed with SIGKILL and the others keep serving while membership drops it.
/// </summary>
[Trait("Category", "Chaos")]
[Collection(ExternalClusterCollection.Name)]
public sealed class ComposeClusterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Compose_cluster_serves_on_every_silo_and_survives_a_killed_container()
    {
        await using var cluster = await ComposeCluster.StartAsync(Ct);
        foreach (var silo in cluster.Silos)
        {
            await SiloKillTests.AssertServesAsync(silo.HttpAddress, silo.Service);
        }
        Assert.Equal(["silo1", "silo2", "silo3"], await cluster.ActiveSilosAsync());

        await cluster.KillAsync(cluster.Silos[1], Ct);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<string> active;
        while ((active = await cluster.ActiveSilosAsync()).Count != 2)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"after 15 s membership still lists {string.Join(", ", active)} as active");
            await Task.Delay(200, Ct);
        }
        Assert.Equal(["silo1", "silo3"], active);
        TestContext.Current.SendDiagnosticMessage($"silo2 left membership {clock.Elapsed.TotalSeconds:F1} s after SIGKILL");

        var survivors = cluster.Silos.Where(s => s.Service != "silo2").ToList();

        foreach (var silo in survivors)
        {
            for (var i = 0; i < 3; i++)
            {
                await SiloKillTests.AssertServesAsync(silo.HttpAddress, $"{silo.Service} after silo2 was killed");
            }
        }
    }
}
