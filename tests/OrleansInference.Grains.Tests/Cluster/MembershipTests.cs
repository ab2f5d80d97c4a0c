namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>A cluster of its own: these tests stop silos.</summary>
public sealed class StoppableClusterFixture : InferenceClusterFixture
{
    protected override short Silos => 3;
}

public sealed class MembershipTests(StoppableClusterFixture fixture) : IClassFixture<StoppableClusterFixture>
{
    [Fact]
    public async Task WorkersOfAStoppedAndAKilledSiloLeaveTheConductor()
    {
        var cluster = fixture.Cluster;
        var workers = await fixture.WaitForWorkersAsync(3, InferenceClusterFixture.Settle);

        var stopped = cluster.Silos[^1];
        await cluster.StopSiloAsync(stopped, TestContext.Current.CancellationToken);
        var left = await fixture.WaitForWorkersAsync(2, InferenceClusterFixture.Settle);
        Assert.DoesNotContain(left, w => w.Registration.Silo == stopped.SiloAddress.ToParsableString());

        var killed = cluster.Silos[^1];
        Assert.NotEqual(stopped.SiloAddress, killed.SiloAddress);
        await cluster.KillSiloAsync(killed, TestContext.Current.CancellationToken);
        left = await fixture.WaitForWorkersAsync(1, InferenceClusterFixture.Settle);
        Assert.DoesNotContain(left, w => w.Registration.Silo == killed.SiloAddress.ToParsableString());
        Assert.Contains(workers, w => w.Registration.WorkerId == left[0].Registration.WorkerId);

        // The survivor still serves requests.
        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            PromptTokenIds = InferenceClusterFixture.PromptIds(3, 20),
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 3 },
        };
        var count = 0;
        await foreach (var c in fixture.Client.GetGrain<IRequestGrain>("after-stop").GenerateAsync(request, null, TestContext.Current.CancellationToken))
        {
            count += c.TokenIds.Count;
            Assert.Equal(left[0].Registration.WorkerId, c.WorkerId);
        }
        Assert.Equal(3, count);
    }
}
