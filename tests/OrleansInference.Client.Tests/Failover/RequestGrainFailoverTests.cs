using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using Orleans.TestingHost;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Client.Tests.Failover;

/// <summary>
/// The request grain's own silo is killed mid-stream: the SDK's idle timer re-attaches with the tokens it received,
/// a new activation continues from the request's checkpoint in grain storage, and the caller gets every token once,
/// equal to the fault-free run.
/// </summary>
public sealed class RequestGrainFailoverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_sdk_resumes_a_request_whose_grain_silo_was_killed_and_gets_every_token_once(bool sampled)
    {
        var storage = new SharedGrainStorage();
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IEngineFactory>(new PacedEngineFactory(TimeSpan.FromMilliseconds(5)));
            silo.Services.AddKeyedSingleton<IGrainStorage>(InferenceSiloExtensions.RequestCheckpointStorageName, storage);
            silo.AddInference(configure: o =>
            {
                o.Engine.NumBlocks = 192;
                o.Engine.CpuThreads = 1;
                o.Engine.MaxModelLength = 2048;
                o.LoadReportInterval = TimeSpan.FromMilliseconds(200);
            });
            silo.Configure<ClusterMembershipOptions>(m =>
            {
                m.ProbeTimeout = TimeSpan.FromSeconds(1);
                m.NumMissedProbesLimit = 1;
                m.NumVotesForDeathDeclaration = 1;
            });
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync(Ct);
        var conductor = cluster.Client.GetGrain<IConductorGrain>("builtin");
        for (var deadline = DateTime.UtcNow.AddSeconds(30); (await conductor.GetWorkersAsync()).Count < 3;)
        {
            Assert.True(DateTime.UtcNow < deadline, "workers did not register");
            await Task.Delay(50, Ct);
        }

        var sdk = new OrleansInferenceClient(cluster.Client, Options.Create(new OrleansInferenceClientOptions
        {
            TokenIdleTimeout = TimeSpan.FromSeconds(1.5),
            FirstTokenTimeout = TimeSpan.FromSeconds(20),
            MaxReattachAttempts = 8,
        }));
        var request = new InferenceRequest
        {
            Model = "builtin",
            PromptTokenIds = Enumerable.Range(0, 60).Select(i => (i * 7919) % 50_000).ToArray(),
            Sampling = sampled
                ? new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, Seed = 99, MaxTokens = 300, IgnoreEos = true }
                : new SamplingOptions { Temperature = 0, MaxTokens = 300, IgnoreEos = true },
        };
        var reference = (await sdk.CompleteAsync("reference", request, Ct)).Choices[0].TokenIds;
        Assert.Equal(300, reference.Count);

        const string id = "survivor";
        var grainId = cluster.Client.GetGrain<IRequestGrain>(id).GetGrainId();
        var tokens = new List<int>();
        var text = new System.Text.StringBuilder();
        InProcessSiloHandle? killed = null;
        await foreach (var chunk in sdk.StreamAsync(id, request, Ct))
        {
            Assert.Equal(tokens.Count, chunk.Offset);
            tokens.AddRange(chunk.TokenIds);
            if (killed is null && tokens.Count >= 20)
            {
                Assert.True(cluster.TryGetGrainContext(grainId, out var context));
                killed = cluster.Silos.Single(s => s.SiloAddress.Equals(context.Address.SiloAddress));
                await cluster.KillSiloAsync(killed, Ct);
            }
        }

        Assert.NotNull(killed);
        Assert.Equal(reference, tokens);
        var status = await cluster.Client.GetGrain<IRequestGrain>(id).GetStatusAsync();
        Assert.Equal(RequestState.Finished, status.State);
        Assert.Equal(1, status.Resumes);
        Assert.Equal([300], status.DeliveredTokens);
        Assert.NotEqual(killed.SiloAddress, cluster.TryGetGrainContext(grainId, out var now) ? now.Address.SiloAddress : null);
        Assert.True(storage.Writes >= 3, $"checkpoint writes {storage.Writes}");
    }
}
