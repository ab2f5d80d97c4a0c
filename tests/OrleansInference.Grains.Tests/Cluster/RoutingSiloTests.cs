using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains.Hosting;
using OrleansInference.Grains.Models;
using OrleansInference.Native;
using OrleansInference.Native.Models;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>Three silos, the first of which serves no model: it only routes.</summary>
public sealed class RoutingSiloClusterFixture : InferenceClusterFixture
{
    private string? _router;

    protected override int ExpectedWorkers => Silos - 1;

    protected override void ConfigureSilo(string siloName, InferenceOptions options)
    {
        _router ??= siloName;
        if (siloName == _router)
        {
            options.WorkersPerSilo = 0;
        }
    }

    /// <summary>The grain factory of the silo without an engine: calls made with it start their grains there.</summary>
    public IGrainFactory RouterGrains => Cluster.Silos.Single(s => s.Name == _router).ServiceProvider.GetRequiredService<IGrainFactory>();

    public string RouterSilo => Cluster.Silos.Single(s => s.Name == _router).SiloAddress.ToParsableString();

    /// <summary>The router silo's view of the cluster's models.</summary>
    public ClusterModelDirectory RouterModels => Cluster.Silos.Single(s => s.Name == _router).ServiceProvider.GetRequiredService<ClusterModelDirectory>();
}

/// <summary>A request that reaches a silo without its model is prepared and placed on a silo that has it.</summary>
public sealed class RoutingSiloTests(RoutingSiloClusterFixture fixture) : IClassFixture<RoutingSiloClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ASiloWithoutTheModelHasTheRequestServedByOneThatHasIt()
    {
        var prompt = InferenceClusterFixture.PromptIds(21, 40);
        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            PromptTokenIds = prompt,
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 6, IgnoreEos = true },
        };
        var grain = fixture.RouterGrains.GetGrain<IRequestGrain>("routed-1");
        var (tokens, chunks) = await StreamReading.ReadAllAsync(grain.GenerateAsync(request, null, Ct), Ct);

        using var model = BuiltinModel.Create();
        await using var engine = InferenceClusterFixture.StandaloneEngine(model);
        var expected = new List<int>();
        await foreach (var u in engine.Submit(new GenerationRequest
        {
            RequestId = "direct",
            PromptTokenIds = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 6, IgnoreEos = true },
        }).WithCancellation(Ct))
        {
            expected.AddRange(u.TokenIds);
        }
        Assert.Equal(expected, tokens[0]);
        var workers = await fixture.Conductor.GetWorkersAsync();
        var worker = Assert.Single(workers, w => w.Registration.WorkerId == chunks[^1].WorkerId);
        Assert.NotEqual(fixture.RouterSilo, worker.Registration.Silo);
        Assert.Equal(40, chunks[^1].Usage!.PromptTokens);
        var status = await grain.GetStatusAsync();
        Assert.Equal(RequestState.Finished, status.State);
    }

    [Fact]
    public async Task TextIsTokenizedAndCheckedByAWorkerElsewhere()
    {
        var text = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            Prompt = "The quick brown fox",
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 2, IgnoreEos = true },
        };
        var (tokens, chunks) = await StreamReading.ReadAllAsync(fixture.RouterGrains.GetGrain<IRequestGrain>("routed-text").GenerateAsync(text, null, Ct), Ct);
        Assert.Equal(2, tokens[0].Count);
        Assert.Equal(4, chunks[^1].Usage!.PromptTokens); // GPT-2: "The", " quick", " brown", " fox"

        var tooLong = text with { Sampling = text.Sampling with { MaxTokens = 5000 } };
        var refused = await Assert.ThrowsAsync<InferenceException>(async () =>
            await StreamReading.ReadAllAsync(fixture.RouterGrains.GetGrain<IRequestGrain>("routed-too-long").GenerateAsync(tooLong, null, Ct), Ct));
        Assert.Equal(InferenceErrorCode.TooLarge, refused.Code);

        var unknown = text with { Model = "no-such-model" };
        var missing = await Assert.ThrowsAsync<InferenceException>(async () =>
            await StreamReading.ReadAllAsync(fixture.RouterGrains.GetGrain<IRequestGrain>("routed-unknown").GenerateAsync(unknown, null, Ct), Ct));
        Assert.Equal(InferenceErrorCode.ModelNotFound, missing.Code);
    }

    [Fact]
    public async Task TheModelRegistryListsTheModelWithItsLiveWorkers()
    {
        var model = await fixture.RouterGrains.GetModelRegistry().FindAsync(InferenceClusterFixture.Model);
        Assert.NotNull(model);
        Assert.Equal(2, model.LiveWorkers); // the two silos with an engine
        Assert.Equal(2048, model.MaxModelLength);
        Assert.Equal("cpu", model.Device);
        var lookup = await fixture.RouterModels.FindAsync(InferenceClusterFixture.Model, Ct);
        Assert.Equal(ClusterModelState.Live, lookup.State);
        Assert.Contains(await fixture.RouterModels.GetLiveModelsAsync(Ct), m => m.Id == InferenceClusterFixture.Model);
        Assert.Equal(ClusterModelState.Unknown, (await fixture.RouterModels.FindAsync("never-served", Ct)).State);
    }

    [Fact]
    public async Task AModelWhoseWorkersAreAllGoneIsUnavailableNotUnknown()
    {
        // What a conductor reports when its last worker leaves.
        await fixture.RouterGrains.GetModelRegistry().ReportAsync(new ModelWorkersReport { Model = "departed", MaxModelLength = 64, Device = "cpu" });
        // A silo looks a model up again at most every quarter of a second (unknown names must not flood the registry).
        var lookup = await fixture.RouterModels.FindAsync("departed", Ct);
        for (var i = 0; i < 20 && lookup.State == ClusterModelState.Unknown; i++)
        {
            await Task.Delay(100, Ct);
            lookup = await fixture.RouterModels.FindAsync("departed", Ct);
        }
        Assert.Equal(ClusterModelState.Down, lookup.State);
        Assert.Equal(64, lookup.Model!.MaxModelLength);
        Assert.DoesNotContain(await fixture.RouterModels.GetLiveModelsAsync(Ct), m => m.Id == "departed");

        var request = new InferenceRequest { Model = "departed", Prompt = "x", Sampling = new SamplingOptions { MaxTokens = 1 } };
        var refused = await Assert.ThrowsAsync<InferenceException>(async () =>
            await StreamReading.ReadAllAsync(fixture.RouterGrains.GetGrain<IRequestGrain>("routed-departed").GenerateAsync(request, null, Ct), Ct));
        Assert.Equal(InferenceErrorCode.Unavailable, refused.Code);
        Assert.Contains("none of its workers is live", refused.Message);
    }
}
