using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>
/// The same request gives the same tokens however the engine happens to run it: alone or batched, chunked or not,
/// from the prefix cache or cold, preempted or not. CPU backend, built-in model, seeded.
/// </summary>
public sealed class EngineEquivalenceTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    private static readonly int[] Target = Prompt(7, 37);

    [Fact]
    public async Task Alone_and_batched_with_fifteen_others_give_identical_tokens()
    {
        await using var engine = fx.NewEngine();
        var greedyAlone = await engine.RunAsync(Greedy("g", Target, 24));
        var sampledAlone = await engine.RunAsync(Sampled("s", Target, 24, seed: 99));

        await using var busy = fx.NewEngine(o => o.EnablePrefixCaching = false);
        var others = Enumerable.Range(0, 14)
            .Select(i => busy.Submit(Sampled($"o{i}", Prompt(100 + i, 5 + 11 * i), 8 + 3 * i, seed: (ulong)i)).CollectAsync(TestContext.Current.CancellationToken))
            .ToList();
        var greedy = busy.Submit(Greedy("g", Target, 24)).CollectAsync(TestContext.Current.CancellationToken);
        var sampled = busy.Submit(Sampled("s", Target, 24, seed: 99)).CollectAsync(TestContext.Current.CancellationToken);
        await Task.WhenAll(others.Append(greedy).Append(sampled));

        Assert.Equal(24, greedyAlone.TokenIds.Count);
        Assert.Equal(greedyAlone.TokenIds, Assert.Single(await greedy).TokenIds);
        Assert.Equal(sampledAlone.TokenIds, Assert.Single(await sampled).TokenIds);
        Assert.Equal(sampledAlone.Text, Assert.Single(await sampled).Text);
        Assert.NotEqual(greedyAlone.TokenIds, sampledAlone.TokenIds);
        await busy.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Chunked_prefill_gives_identical_tokens()
    {
        var prompt = Prompt(8, 61);
        await using var whole = fx.NewEngine();
        await using var chunked = fx.NewEngine(o => o.MaxBatchTokens = 8);
        var expected = await whole.RunAsync(Sampled("a", prompt, 16, seed: 5));
        // Run a decode alongside the chunks so they share steps.
        var neighbour = chunked.Submit(Greedy("n", Prompt(9, 3), 40)).CollectAsync(TestContext.Current.CancellationToken);
        var actual = await chunked.RunAsync(Sampled("a", prompt, 16, seed: 5));
        await neighbour;
        Assert.Equal(expected.TokenIds, actual.TokenIds);
        Assert.True(chunked.GetLoad().PrefillTokensComputed >= 61);
        await chunked.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task A_prefix_cache_hit_gives_identical_tokens_and_is_counted()
    {
        var prompt = Prompt(10, 53);
        await using var cold = fx.NewEngine(o => o.EnablePrefixCaching = false);
        var expected = await cold.RunAsync(Sampled("a", prompt, 12, seed: 3));
        Assert.Equal(0, expected.CachedPromptTokens);

        await using var warm = fx.NewEngine();
        var first = await warm.RunAsync(Sampled("a", prompt, 12, seed: 3));
        Assert.Equal(0, first.CachedPromptTokens);
        var second = await warm.RunAsync(Sampled("b", prompt, 12, seed: 3));
        Assert.Equal(48, second.CachedPromptTokens); // three full blocks of 16
        Assert.Equal(expected.TokenIds, first.TokenIds);
        Assert.Equal(expected.TokenIds, second.TokenIds);

        var load = warm.GetLoad();
        Assert.Equal(2 * 53, load.PrefixQueryTokens);
        Assert.Equal(48, load.PrefixHitTokens);
        Assert.Equal(53 + 5, load.PrefillTokensComputed);
        await warm.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Preempted_and_resumed_requests_give_identical_tokens_and_leave_the_pool_clean()
    {
        var prompts = Enumerable.Range(0, 6).Select(i => Prompt(20 + i, 20 + 7 * i)).ToArray();
        await using var roomy = fx.NewEngine();
        var expected = new List<IReadOnlyList<int>>();
        foreach (var (p, i) in prompts.Select((p, i) => (p, i)))
        {
            expected.Add((await roomy.RunAsync(Sampled($"r{i}", p, 40, seed: (ulong)i))).TokenIds);
        }

        // 12 blocks of 16 tokens: each request alone needs up to 6, so six at once must preempt.
        await using var tight = fx.NewEngine(o => { o.NumBlocks = 12; o.EnablePrefixCaching = true; });
        var runs = prompts.Select((p, i) => tight.Submit(Sampled($"r{i}", p, 40, seed: (ulong)i)).CollectAsync(TestContext.Current.CancellationToken)).ToList();
        var results = await Task.WhenAll(runs);
        Assert.True(tight.GetLoad().Preemptions > 0);
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], Assert.Single(results[i]).TokenIds);
        }
        await tight.AssertPoolCleanAsync();
    }

    [Theory]
    [InlineData(0.0f, 1)]
    [InlineData(0.0f, 9)]
    [InlineData(0.8f, 1)]
    [InlineData(0.8f, 9)]
    [InlineData(0.8f, 19)]
    public async Task Resuming_from_token_k_with_the_same_seed_continues_identically(float temperature, int k)
    {
        var prompt = Prompt(30, 29);
        var sampling = new SamplingParams { Temperature = temperature, TopP = 0.9f, Seed = 1234, MaxTokens = 20, IgnoreEos = true };
        await using var engine = fx.NewEngine();
        var full = await engine.RunAsync(new GenerationRequest { RequestId = "full", PromptTokenIds = prompt, Sampling = sampling });
        Assert.Equal(20, full.TokenIds.Count);

        // A different engine, as after a failover.
        await using var other = fx.NewEngine();
        var resumed = await other.RunAsync(new GenerationRequest
        {
            RequestId = "resumed",
            PromptTokenIds = prompt,
            Sampling = sampling,
            ResumeOutputTokenIds = full.TokenIds.Take(k).ToArray(),
        });
        Assert.Equal(full.TokenIds.Skip(k), resumed.TokenIds);
        Assert.Equal(29 + k, resumed.PromptTokens);
        Assert.Equal(FinishReason.Length, resumed.FinishReason);
        Assert.Equal(20 - k, resumed.Timings!.OutputTokens);
    }

    [Fact]
    public async Task Resuming_after_every_token_was_delivered_just_finishes()
    {
        await using var engine = fx.NewEngine();
        var done = await engine.RunAsync(new GenerationRequest
        {
            RequestId = "done",
            PromptTokenIds = Prompt(31, 5),
            Sampling = new SamplingParams { MaxTokens = 3, Seed = 1 },
            ResumeOutputTokenIds = [1, 2, 3],
        });
        Assert.Empty(done.TokenIds);
        Assert.Equal(FinishReason.Length, done.FinishReason);
    }

    [Fact]
    public async Task With_n_2_each_sample_equals_a_single_request_with_its_sample_index()
    {
        var prompt = Prompt(40, 27); // the prompt ends in a partial block: the samples copy it before appending
        await using var engine = fx.NewEngine();
        var request = Sampled("n2", prompt, 18, seed: 77) with { };
        request = request with { Sampling = request.Sampling with { N = 2 } };
        var both = await engine.Submit(request).CollectAsync(TestContext.Current.CancellationToken);
        Assert.Equal([0, 1], both.Select(o => o.SampleIndex));

        await using var separate = fx.NewEngine();
        var zero = await separate.RunAsync(Sampled("s0", prompt, 18, seed: 77));
        var one = await separate.RunAsync(Sampled("s1", prompt, 18, seed: 77) with { FirstSampleIndex = 1 });
        Assert.Equal(zero.TokenIds, both[0].TokenIds);
        Assert.Equal(one.TokenIds, both[1].TokenIds);
        Assert.NotEqual(both[0].TokenIds, both[1].TokenIds);
        Assert.Equal(27, engine.GetLoad().PrefillTokensComputed); // the prompt was computed once
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Greedy_without_stops_and_ignoring_eos_produces_exactly_max_tokens()
    {
        await using var engine = fx.NewEngine();
        var updates = new List<GenerationUpdate>();
        await foreach (var u in engine.Submit(Greedy("g", Prompt(50, 10), 33)).WithCancellation(TestContext.Current.CancellationToken))
        {
            updates.Add(u);
        }
        Assert.Equal(33, updates.Count); // one update per token per step
        Assert.All(updates, u => Assert.Single(u.TokenIds));
        Assert.All(updates.SkipLast(1), u => Assert.Null(u.FinishReason));
        var last = updates[^1];
        Assert.Equal(FinishReason.Length, last.FinishReason);
        Assert.Equal(33, last.Timings!.OutputTokens);
        Assert.True(last.Timings.FirstToken <= last.Timings.Total);
        Assert.True(last.Timings.Queued <= last.Timings.FirstToken);
        Assert.Equal(33, engine.GetLoad().GeneratedTokens);
    }
}
