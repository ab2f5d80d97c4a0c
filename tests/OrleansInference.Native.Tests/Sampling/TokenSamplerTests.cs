using Xunit;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Tests.Sampling;

public sealed class TokenSamplerTests
{
    private static readonly SamplingParams Greedy = new() { Temperature = 0f };

    private static SampledToken Sample(TokenSampler s, float[] logits, SamplingParams p, long position = 0, int sample = 0, ulong seed = 1,
        int[]? prompt = null, int[]? output = null) =>
        s.Sample(logits.ToArray(), p, prompt ?? [], output ?? [], position, sample, seed);

    [Fact]
    public void Greedy_is_argmax_with_ties_to_the_lowest_id()
    {
        var s = new TokenSampler();
        Assert.Equal(3, Sample(s, [0.1f, 2f, -1f, 5f, 4.9f], Greedy).TokenId);
        Assert.Equal(1, Sample(s, [0.1f, 5f, -1f, 5f, 5f], Greedy).TokenId);
        Assert.Equal(2, Sample(s, [float.NegativeInfinity, float.NaN, -3f], Greedy).TokenId);
    }

    [Fact]
    public void A_min_p_below_a_narrow_spread_keeps_every_token_and_does_not_throw()
    {
        // A vocabulary large enough to use every bucket of the canonical distribution, logits within a narrow range,
        // and a min_p whose log lies below all of them (found by the GPU sampling comparison on the H100).
        var logits = Enumerable.Range(0, 50_000).Select(i => (i % 997) * 0.001f).ToArray();
        var s = new TokenSampler();
        for (ulong seed = 0; seed < 20; seed++)
        {
            var t = Sample(s, logits, new SamplingParams { Temperature = 1.3f, MinP = 0.001f }, position: 7, seed: seed);
            Assert.InRange(t.TokenId, 0, logits.Length - 1);
        }
    }

    [Fact]
    public void Top_k_of_one_is_greedy_for_any_seed()
    {
        var rng = new Random(3);
        var s = new TokenSampler();
        for (var trial = 0; trial < 200; trial++)
        {
            var logits = Enumerable.Range(0, 500).Select(_ => (float)rng.NextDouble() * 4).ToArray();
            logits[rng.Next(500)] = logits.Max(); // a tie with the maximum somewhere
            var expected = Sample(s, logits, Greedy).TokenId;
            var p = new SamplingParams { Temperature = 0.7f + (float)rng.NextDouble(), TopK = 1 };
            Assert.Equal(expected, Sample(s, logits, p, trial, 0, (ulong)rng.NextInt64()).TokenId);
        }
    }

    [Fact]
    public void Same_key_gives_the_same_token_and_positions_draw_independently()
    {
        var s = new TokenSampler();
        var flat = new float[64];
        var p = new SamplingParams { Temperature = 1f };
        var first = Enumerable.Range(0, 300).Select(i => Sample(s, flat, p, 1000 + i, 2, 99).TokenId).ToArray();
        var again = Enumerable.Range(0, 300).Select(i => Sample(new TokenSampler(), flat, p, 1000 + i, 2, 99).TokenId).ToArray();
        Assert.Equal(first, again);

        // Uniform logits: the draw is floor(u · 64) in id order, so consecutive positions vary.
        Assert.True(first.Distinct().Count() > 55, $"{first.Distinct().Count()} distinct tokens over 300 positions");
        var otherSample = Enumerable.Range(0, 300).Select(i => Sample(s, flat, p, 1000 + i, 3, 99).TokenId).ToArray();
        Assert.True(first.Zip(otherSample).Count(x => x.First == x.Second) < 20); // ≈ 300/64 expected by chance
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(0.5f)]
    [InlineData(2.0f)]
    public void Empirical_frequencies_match_the_softmax(float temperature)
    {
        float[] logits = [2f, 1f, 0.5f, 0f, -1f, 1.5f, -0.5f, 0.25f];
        var expected = Softmax(logits.Select(l => l / temperature).ToArray());
        var counts = Count(logits, new SamplingParams { Temperature = temperature }, draws: 40_000, seed: 2024);
        var chi2 = ChiSquare(counts, expected);
        Assert.True(chi2 < 26.0, $"chi-square {chi2} over 7 degrees of freedom"); // p ≈ 5e-4
    }

    [Fact]
    public void Top_k_keeps_the_k_most_likely_in_proportion()
    {
        float[] logits = [1f, 3f, 2f, 0f, 2.5f];
        var counts = Count(logits, new SamplingParams { TopK = 2 }, 20_000, 5);
        Assert.Equal(0, counts[0] + counts[2] + counts[3]);
        var expected = Softmax([3f, 2.5f]);
        Assert.True(ChiSquare([counts[1], counts[4]], expected) < 15);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_reaching_p()
    {
        // Probabilities 0.5, 0.3, 0.15, 0.05 (ids shuffled).
        var logits = Logits([(2, 0.15), (0, 0.5), (3, 0.05), (1, 0.3)]);
        var counts = Count(logits, new SamplingParams { TopP = 0.7f }, 20_000, 11);
        Assert.Equal(0, counts[2] + counts[3]);
        Assert.True(ChiSquare([counts[0], counts[1]], [0.5 / 0.8, 0.3 / 0.8]) < 15);

        // 0.85 needs the third token too; 0.1 keeps only the best.
        counts = Count(logits, new SamplingParams { TopP = 0.85f }, 20_000, 12);
        Assert.Equal(0, counts[3]);
        Assert.True(counts[2] > 0);
        counts = Count(logits, new SamplingParams { TopP = 0.1f }, 2_000, 13);
        Assert.Equal(2_000, counts[0]);
    }

    [Fact]
    public void Min_p_drops_tokens_below_a_fraction_of_the_best()
    {
        var logits = Logits([(0, 0.5), (1, 0.3), (2, 0.15), (3, 0.05)]);
        var counts = Count(logits, new SamplingParams { MinP = 0.2f }, 20_000, 17); // threshold 0.1
        Assert.Equal(0, counts[3]);
        Assert.True(ChiSquare(counts[..3], [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]) < 20);
    }

    [Fact]
    public void Selection_without_sorting_agrees_with_a_full_sort_on_a_large_vocabulary()
    {
        var rng = new Random(1);
        var vocab = 50_000;
        var logits = Enumerable.Range(0, vocab).Select(_ => (float)(rng.NextDouble() * 12 - 6)).ToArray();
        for (var i = 0; i < 2000; i++)
        {
            logits[rng.Next(vocab)] = logits[rng.Next(vocab)]; // plenty of exact ties
        }

        var s = new TokenSampler();
        foreach (var p in new[]
                 {
                     new SamplingParams { Temperature = 0.8f },
                     new SamplingParams { Temperature = 1.3f, TopP = 0.9f },
                     new SamplingParams { Temperature = 1f, TopK = 40 },
                     new SamplingParams { Temperature = 1f, TopK = 1000, TopP = 0.5f, MinP = 0.05f },
                 })
        {
            var kept = ReferenceKept(logits, p);
            for (var position = 0; position < 100; position++)
            {
                var expected = ReferenceDraw(kept, PhiloxRng.Uniform(77, position, 0));
                Assert.Equal(expected, Sample(s, logits, p, position, 0, 77).TokenId);
            }
        }
    }

    [Fact]
    public void Masked_and_nan_logits_are_never_drawn()
    {
        float[] logits = [float.NegativeInfinity, 1f, float.NaN, 1f, float.NegativeInfinity];
        var counts = Count(logits, new SamplingParams { Temperature = 1.5f }, 4_000, 3);
        Assert.Equal(0, counts[0] + counts[2] + counts[4]);
        Assert.True(ChiSquare([counts[1], counts[3]], [0.5, 0.5]) < 15);
        Assert.Equal(1, Sample(new TokenSampler(), logits, Greedy).TokenId);
    }

    [Fact]
    public void Penalties_change_logits_as_specified()
    {
        float[] logits = [2f, -1f, 0.5f, 3f, 1f];
        var p = new SamplingParams { Temperature = 0f, RepetitionPenalty = 2f, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f };
        var span = logits.ToArray();
        var chosen = new TokenSampler().Sample(span, p, [0, 1, 1], [1, 3, 3], 0, 0, 0);
        // Repetition (prompt + output, each token once): 0: 2/2, 1: -1·2, 3: 3/2.
        // Frequency/presence (output only): 1: -2 - 0.5·1 - 0.25; 3: 1.5 - 0.5·2 - 0.25.
        Assert.Equal([1f, -2.75f, 0.5f, 0.25f, 1f], span);
        Assert.Equal(0, chosen.TokenId); // 1 vs 1: the lower id
    }

    [Fact]
    public void Logprobs_are_the_raw_log_softmax_with_the_top_n_in_order()
    {
        float[] logits = [0.5f, 2f, -1f, 2f, 0f, 1f];
        var logSoftmax = LogSoftmax(logits);
        var p = new SamplingParams { Temperature = 0f, Logprobs = 6, RepetitionPenalty = 5f };
        var r = new TokenSampler().Sample(logits.ToArray(), p, [1], [], 0, 0, 0);

        Assert.Equal(3, r.TokenId); // the penalty moved the argmax from 1 to 3...
        Assert.NotNull(r.Logprobs);
        Assert.Equal(3, r.Logprobs.Chosen.TokenId);
        Assert.Equal(logSoftmax[3], r.Logprobs.Chosen.Logprob, 5); // ...but logprobs are the unpenalised ones
        Assert.Equal([1, 3, 5, 0, 4, 2], r.Logprobs.Top.Select(t => t.TokenId));
        Assert.Equal(1.0, r.Logprobs.Top.Sum(t => Math.Exp(t.Logprob)), 5);
        foreach (var t in r.Logprobs.Top)
        {
            Assert.Equal(logSoftmax[t.TokenId], t.Logprob, 5);
        }

        var two = new TokenSampler().Sample(logits.ToArray(), p with { Logprobs = 2 }, [], [], 0, 0, 0);
        Assert.Equal([1, 3], two.Logprobs!.Top.Select(t => t.TokenId));
        Assert.Empty(new TokenSampler().Sample(logits.ToArray(), p with { Logprobs = 0 }, [], [], 0, 0, 0).Logprobs!.Top);
        Assert.Null(new TokenSampler().Sample(logits.ToArray(), Greedy, [], [], 0, 0, 0).Logprobs);
    }

    private static int[] Count(float[] logits, SamplingParams p, int draws, ulong seed)
    {
        var s = new TokenSampler();
        var counts = new int[logits.Length];
        for (var i = 0; i < draws; i++)
        {
            counts[Sample(s, logits, p, i, 0, seed).TokenId]++;
        }

        return counts;
    }

    private static double ChiSquare(int[] counts, double[] probabilities)
    {
        double n = counts.Sum();
        return counts.Select((c, i) => (c - (n * probabilities[i])) * (c - (n * probabilities[i])) / (n * probabilities[i])).Sum();
    }

    private static double[] Softmax(float[] x)
    {
        var max = x.Max();
        var e = x.Select(v => Math.Exp(v - max)).ToArray();
        var z = e.Sum();
        return e.Select(v => v / z).ToArray();
    }

    private static float[] LogSoftmax(float[] x)
    {
        var max = x.Max();
        var lse = max + Math.Log(x.Sum(v => Math.Exp(v - max)));
        return x.Select(v => (float)(v - lse)).ToArray();
    }

    private static float[] Logits((int Id, double P)[] probabilities)
    {
        var logits = new float[probabilities.Length];
        foreach (var (id, prob) in probabilities)
        {
            logits[id] = (float)Math.Log(prob);
        }

        return logits;
    }

    /// <summary>The specification written the slow way: full sort, cumulative sums; this part keeps the survivors.</summary>
    private static List<(int Id, float Offset, double W)> ReferenceKept(float[] logits, SamplingParams p)
    {
        // Order: (logit − max) / T descending, ties to the lower id; weight exp of that.
        var max = logits.Max();
        var invT = 1f / p.Temperature;
        var items = logits.Select((l, id) => (Id: id, Offset: (l - max) * invT))
            .OrderByDescending(x => x.Offset).ThenBy(x => x.Id)
            .Select(x => (x.Id, x.Offset, W: (double)MathF.Exp(x.Offset))).ToList();
        if (p.TopK > 0)
        {
            items = items.Take(p.TopK).ToList();
        }

        if (p.TopP < 1f)
        {
            var total = items.Sum(x => x.W);
            var kept = new List<(int Id, float Offset, double W)>();
            var before = 0.0;
            foreach (var x in items)
            {
                if (before < p.TopP * total || kept.Count == 0)
                {
                    kept.Add(x);
                }

                before += x.W;
            }

            items = kept;
        }

        if (p.MinP > 0f)
        {
            items = items.Where(x => x.Offset >= MathF.Log(p.MinP)).ToList(); // p ≥ min_p · p_max
        }

        return items;
    }

    private static int ReferenceDraw(List<(int Id, float Offset, double W)> items, double u)
    {
        var z = items.Sum(x => x.W);
        var acc = 0.0;
        foreach (var x in items)
        {
            acc += x.W;
            if (acc > u * z)
            {
                return x.Id;
            }
        }

        return items[^1].Id;
    }
}
