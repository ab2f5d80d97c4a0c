using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>
/// A seeded random mix — prompt lengths, n, priorities, salts, shared prefixes, aborts — on a tight pool with small
/// steps (so prefix hits, copy-on-write and preemption all happen), checked against each request run alone on a
/// roomy engine: every stream ends, every surviving sample's tokens are identical, and the pool is clean.
/// </summary>
public sealed class EngineStressTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    [Theory]
    [InlineData(1, 16)]
    [InlineData(2, 512)]
    [InlineData(3, 24)]
    public async Task A_random_workload_matches_each_request_run_alone(int seed, int maxBatchTokens)
    {
        var ct = TestContext.Current.CancellationToken;
        var r = new Random(seed);
        var shared = Prompt(seed * 100, 40);
        var requests = Enumerable.Range(0, 24).Select(i =>
        {
            var prompt = r.Next(3) == 0
                ? shared.Take(17 + r.Next(23)).Concat(Prompt(seed * 100 + i + 1, 1 + r.Next(10))).ToArray()
                : Prompt(seed * 100 + i + 1, 1 + r.Next(60));
            return new GenerationRequest
            {
                RequestId = $"q{i}",
                PromptTokenIds = prompt,
                Priority = r.Next(3) == 0 ? RequestPriority.Batch : RequestPriority.Interactive,
                CacheSalt = r.Next(4) == 0 ? "salted" : null,
                Sampling = new SamplingParams
                {
                    Temperature = r.Next(3) == 0 ? 0 : 0.9f,
                    TopK = r.Next(2) == 0 ? 0 : 50,
                    Seed = (ulong)r.Next(),
                    MaxTokens = 1 + r.Next(30),
                    N = r.Next(4) == 0 ? 1 + r.Next(3) : 1,
                    IgnoreEos = true,
                },
            };
        }).ToList();
        var abortAfter = requests.ToDictionary(q => q.RequestId, _ => r.Next(5) == 0 ? 1 + r.Next(6) : -1);

        await using var tight = fx.NewEngine(o => { o.NumBlocks = 14; o.MaxBatchTokens = maxBatchTokens; o.MaxRunningSequences = 8; });
        var runs = requests.Select(async q =>
        {
            var updates = new List<GenerationUpdate>();
            await foreach (var u in tight.Submit(q).WithCancellation(ct))
            {
                updates.Add(u);
                if (updates.Count == abortAfter[q.RequestId])
                {
                    tight.Abort(q.RequestId);
                }
            }
            return updates;
        }).ToList();
        var results = await Task.WhenAll(runs);
        var load = tight.GetLoad();
        Assert.True(load.Preemptions > 0, "the workload should preempt");
        Assert.True(load.PrefixHitTokens > 0, "the workload should hit the prefix cache");

        await using var roomy = fx.NewEngine();
        for (var i = 0; i < requests.Count; i++)
        {
            var expected = await roomy.Submit(requests[i] with { RequestId = $"ref{i}" }).CollectAsync(ct);
            foreach (var sample in results[i].GroupBy(u => u.SampleIndex))
            {
                var last = sample.Last();
                Assert.NotNull(last.FinishReason);
                if (last.FinishReason == FinishReason.Aborted)
                {
                    continue;
                }
                Assert.Equal(FinishReason.Length, last.FinishReason);
                Assert.Equal(expected[sample.Key].TokenIds, sample.SelectMany(u => u.TokenIds).ToList());
            }
            Assert.Equal(requests[i].Sampling.N, results[i].Select(u => u.SampleIndex).Distinct().Count());
        }
        await tight.AssertPoolCleanAsync();
    }
}
