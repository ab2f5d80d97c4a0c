using OrleansInference.Native;
using OrleansInference.Native.Models;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>Requests through a 3-silo cluster: output equivalence, prefix affinity, cancellation, re-attach.</summary>
public sealed class RequestPathTests(InferenceClusterFixture fixture) : IClassFixture<InferenceClusterFixture>
{
    private readonly IClusterClient _client = fixture.Client;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InferenceRequest Request(int[] prompt, int maxTokens, ulong seed, int n = 1) => new()
    {
        Model = InferenceClusterFixture.Model,
        PromptTokenIds = prompt,
        Sampling = new SamplingOptions { Temperature = 0.8f, TopP = 0.95f, Seed = seed, MaxTokens = maxTokens, IgnoreEos = true, N = n },
    };

    [Fact]
    public async Task StreamsTheSameTokensAsTheEngineRunDirectly()
    {
        var prompt = InferenceClusterFixture.PromptIds(1, 40);
        using var model = ModelLoader.Load(InferenceClusterFixture.Model);
        await using var engine = InferenceClusterFixture.StandaloneEngine(model);
        var direct = await engine.Submit(new GenerationRequest
        {
            RequestId = "direct",
            PromptTokenIds = prompt,
            Sampling = new SamplingParams { Temperature = 0.8f, TopP = 0.95f, Seed = 77, MaxTokens = 24, IgnoreEos = true, N = 2 },
        }).CollectAsync(Ct);

        var (tokens, chunks) = await StreamReading.ReadAllAsync(
            _client.GetGrain<IRequestGrain>("equiv-1").GenerateAsync(Request(prompt, 24, 77, n: 2), null, Ct), Ct);

        Assert.Equal(direct[0].TokenIds, tokens[0]);
        Assert.Equal(direct[1].TokenIds, tokens[1]);
        Assert.Equal(24, tokens[0].Count);
        Assert.NotEqual(tokens[0], tokens[1]);
        var usage = Assert.Single(chunks, c => c.Usage is not null).Usage!;
        Assert.Same(chunks[^1].Usage, usage);
        Assert.Equal(40, usage.PromptTokens);
        Assert.Equal(48, usage.CompletionTokens);
        Assert.All(chunks, c => Assert.Equal("equiv-1", c.RequestId));
        Assert.Equal(2, chunks.Count(c => c.FinishReason == InferenceFinishReason.Length));

        var status = await _client.GetGrain<IRequestGrain>("equiv-1").GetStatusAsync();
        Assert.Equal(RequestState.Finished, status.State);
        Assert.Equal([24, 24], status.DeliveredTokens);
    }

    [Fact]
    public async Task TextPromptIsTokenizedOnTheSilo()
    {
        using var model = ModelLoader.Load(InferenceClusterFixture.Model);
        await using var engine = InferenceClusterFixture.StandaloneEngine(model);
        var direct = await engine.Submit(new GenerationRequest
        {
            RequestId = "direct-text",
            PromptText = "The quick brown fox jumps over the lazy dog.",
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 10, IgnoreEos = true },
        }).CollectAsync(Ct);
        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            Prompt = "The quick brown fox jumps over the lazy dog.",
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 10, IgnoreEos = true },
        };
        var (tokens, chunks) = await StreamReading.ReadAllAsync(_client.GetGrain<IRequestGrain>("text-1").GenerateAsync(request, null, Ct), Ct);
        Assert.Equal(direct[0].TokenIds, tokens[0]);
        Assert.Equal(direct[0].Text, string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public async Task ASharedPrefixIsPlacedOnTheWorkerThatCachedIt()
    {
        var prefix = InferenceClusterFixture.PromptIds(2, 512);
        int[] first = [.. prefix, .. InferenceClusterFixture.PromptIds(3, 24)];
        int[] second = [.. prefix, .. InferenceClusterFixture.PromptIds(4, 24)];

        var (_, chunks1) = await StreamReading.ReadAllAsync(_client.GetGrain<IRequestGrain>("prefix-1").GenerateAsync(Request(first, 4, 1), null, Ct), Ct);
        var worker = chunks1[0].WorkerId!;
        var before = await _client.GetGrain<IWorkerGrain>(worker).GetLoadAsync();

        var (_, chunks2) = await StreamReading.ReadAllAsync(_client.GetGrain<IRequestGrain>("prefix-2").GenerateAsync(Request(second, 4, 1), null, Ct), Ct);
        Assert.Equal(worker, chunks2[0].WorkerId);
        var after = await _client.GetGrain<IWorkerGrain>(worker).GetLoadAsync();
        Assert.True(after.PrefixHitTokens - before.PrefixHitTokens >= 512, $"hits went from {before.PrefixHitTokens} to {after.PrefixHitTokens}");
        Assert.True(chunks2[^1].Usage!.CachedPromptTokens >= 512, $"cached {chunks2[^1].Usage!.CachedPromptTokens}");
    }

    [Fact]
    public async Task CancellingMidStreamFreesTheRequestsBlocks()
    {
        var prompt = InferenceClusterFixture.PromptIds(5, 300);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var grain = _client.GetGrain<IRequestGrain>("cancel-1");
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var c in grain.GenerateAsync(Request(prompt, 1500, 3), null, cts.Token))
            {
                received += c.TokenIds.Count;
                if (received >= 3)
                {
                    await cts.CancelAsync();
                }
            }
        });
        // The cancellation reaches the grain asynchronously (a cancel message after the enumerator's last call).
        var status = await grain.GetStatusAsync();
        for (var deadline = DateTime.UtcNow + InferenceClusterFixture.Settle; status.State != RequestState.Cancelled && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(20, Ct);
            status = await grain.GetStatusAsync();
        }
        await fixture.WaitForIdleWorkersAsync(InferenceClusterFixture.Settle);
        Assert.Equal(RequestState.Cancelled, status.State);
        Assert.InRange(status.DeliveredTokens[0], 3, 1499);
        Assert.All(await fixture.Conductor.GetWorkersAsync(), w => Assert.Equal(0, w.InFlight));
    }

    [Fact]
    public async Task CancelAsyncStopsARunningRequest()
    {
        var prompt = InferenceClusterFixture.PromptIds(6, 100);
        var grain = _client.GetGrain<IRequestGrain>("cancel-2");
        var chunks = new List<TokenChunk>();
        await foreach (var c in grain.GenerateAsync(Request(prompt, 1500, 3), null, Ct))
        {
            chunks.Add(c);
            if (chunks.Count == 2)
            {
                await grain.CancelAsync();
            }
        }
        Assert.Equal(InferenceFinishReason.Cancelled, chunks[^1].FinishReason);
        Assert.True(chunks.Sum(c => c.TokenIds.Count) < 1500);
        await fixture.WaitForIdleWorkersAsync(InferenceClusterFixture.Settle);
    }

    [Fact]
    public async Task ReattachingReplaysExactlyTheMissingTokens()
    {
        var prompt = InferenceClusterFixture.PromptIds(7, 60);
        var grain = _client.GetGrain<IRequestGrain>("reattach-1");
        var (full, _) = await StreamReading.ReadAllAsync(grain.GenerateAsync(Request(prompt, 30, 5, n: 2), null, Ct), Ct);

        // A caller that had 7 tokens of sample 0 and 19 of sample 1 gets the rest, each token once.
        var tokens = new Dictionary<int, List<int>> { [0] = [], [1] = [] };
        await foreach (var c in grain.GenerateAsync(Request(prompt, 30, 5, n: 2), [7, 19], Ct))
        {
            Assert.Equal(c.Index == 0 ? 7 + tokens[0].Count : 19 + tokens[1].Count, c.Offset);
            tokens[c.Index].AddRange(c.TokenIds);
        }
        Assert.Equal(full[0].Skip(7), tokens[0]);
        Assert.Equal(full[1].Skip(19), tokens[1]);
    }

    [Fact]
    public async Task ReattachingWhileRunningContinuesLive()
    {
        var prompt = InferenceClusterFixture.PromptIds(8, 60);
        var expected = (await StreamReading.ReadAllAsync(
            _client.GetGrain<IRequestGrain>("reattach-ref").GenerateAsync(Request(prompt, 400, 9), null, Ct), Ct)).Tokens[0];

        var grain = _client.GetGrain<IRequestGrain>("reattach-2");
        var got = new List<int>();
        var first = grain.GenerateAsync(Request(prompt, 400, 9), null, Ct).GetAsyncEnumerator(Ct);
        while (got.Count < 5 && await first.MoveNextAsync())
        {
            got.AddRange(first.Current.TokenIds);
        }
        // The connection "drops": a new call takes over from what was received, then the old enumerator goes away.
        var second = grain.GenerateAsync(Request(prompt, 400, 9), [got.Count], Ct);
        var rest = second.GetAsyncEnumerator(Ct);
        Assert.True(await rest.MoveNextAsync());
        await first.DisposeAsync();
        do
        {
            Assert.Equal(got.Count, rest.Current.Offset);
            got.AddRange(rest.Current.TokenIds);
        }
        while (await rest.MoveNextAsync());
        await rest.DisposeAsync();
        Assert.Equal(expected, got);
        Assert.Equal(RequestState.Finished, (await grain.GetStatusAsync()).State);
    }
}
