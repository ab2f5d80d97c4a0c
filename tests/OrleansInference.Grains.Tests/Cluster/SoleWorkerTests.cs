using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>One silo, one worker: the model's sole worker.</summary>
public sealed class SingleWorkerClusterFixture : InferenceClusterFixture
{
    protected override short Silos => 1;

    internal EngineHost Host => Cluster.Silos[0].ServiceProvider.GetRequiredService<EngineHost>();
}

/// <summary>
/// The sole-worker shortcut: a request grain on the silo of its model's only worker starts there without asking the
/// conductor, which still records the placement and its completion.
/// </summary>
public sealed class SoleWorkerTests(SingleWorkerClusterFixture fixture) : IClassFixture<SingleWorkerClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TheConductorStillCountsAShortcutPlacementInFlightUntilItCompletes()
    {
        var sole = await SoleWorkerAsync();
        var before = Assert.Single(await fixture.Conductor.GetWorkersAsync());
        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            PromptTokenIds = InferenceClusterFixture.PromptIds(5, 48),
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 400, IgnoreEos = true },
        };
        await using var stream = fixture.Client.GetGrain<IRequestGrain>("sole-1").GenerateAsync(request, null, Ct).GetAsyncEnumerator(Ct);
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal(sole.Id, stream.Current.WorkerId);

        var during = await WaitForAsync(w => w.Placements == before.Placements + 1);
        Assert.Equal(1, during.InFlight);

        var tokens = stream.Current.TokenIds.Count;
        while (await stream.MoveNextAsync()) tokens += stream.Current.TokenIds.Count;
        Assert.Equal(400, tokens);
        var after = await WaitForAsync(w => w.InFlight == 0);
        Assert.Equal(before.Placements + 1, after.Placements);
    }

    [Fact]
    public async Task AWorkerIsSoleOnlyWhileNoOtherWorkerOfItsModelIsRegistered()
    {
        var sole = await SoleWorkerAsync();
        var ack = await fixture.Conductor.ReportLoadAsync(sole.GetLoad());
        Assert.Equal(new LoadReportAck(true, true), ack);
        Assert.Null(fixture.Host.FindSoleWorker("another-model"));

        var other = new WorkerRegistration
        {
            WorkerId = "elsewhere",
            Silo = "127.0.0.1:1@1",
            Model = InferenceClusterFixture.Model,
            BlockSize = sole.Registration.BlockSize,
            HashVersion = sole.Registration.HashVersion,
        };
        await fixture.Conductor.RegisterWorkerAsync(other);
        try
        {
            Assert.Equal(new LoadReportAck(true, false), await fixture.Conductor.ReportLoadAsync(sole.GetLoad()));
            // The worker's own next report (every 200 ms here) ends the shortcut on its silo.
            var deadline = DateTime.UtcNow + InferenceClusterFixture.Settle;
            while (fixture.Host.FindSoleWorker(InferenceClusterFixture.Model) is not null)
            {
                Assert.True(DateTime.UtcNow < deadline, "the worker still believes it is the only one");
                await Task.Delay(20, Ct);
            }
        }
        finally
        {
            await fixture.Conductor.UnregisterWorkerAsync(other.WorkerId);
        }
        Assert.Equal(new LoadReportAck(true, true), await fixture.Conductor.ReportLoadAsync(sole.GetLoad()));
    }

    /// <summary>The worker, once its last report told it that it is the only one (another test may have hidden that).</summary>
    private async Task<HostedWorker> SoleWorkerAsync()
    {
        var deadline = DateTime.UtcNow + InferenceClusterFixture.Settle;
        while (true)
        {
            if (fixture.Host.FindSoleWorker(InferenceClusterFixture.Model) is { } sole) return sole;
            Assert.True(DateTime.UtcNow < deadline, "the only worker does not know it is the only one");
            await Task.Delay(20, Ct);
        }
    }

    private async Task<WorkerInfo> WaitForAsync(Func<WorkerInfo, bool> condition)
    {
        var deadline = DateTime.UtcNow + InferenceClusterFixture.Settle;
        while (true)
        {
            var w = Assert.Single(await fixture.Conductor.GetWorkersAsync());
            if (condition(w)) return w;
            Assert.True(DateTime.UtcNow < deadline, $"conductor shows in flight {w.InFlight}, placements {w.Placements}");
            await Task.Delay(10, Ct);
        }
    }
}
