using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tokenization;
using Xunit;

namespace OrleansInference.Native.Tests.Fixtures;

/// <summary>
/// Our tokenizer, model loader and CPU backend against transformers on real checkpoints it saved (Fixtures/hf):
/// the same token ids and decoded text, float32 logits of whole prompts within 1e-3, identical greedy continuations.
/// </summary>
public sealed class HfFixtureTests
{
    /// <summary>Largest absolute logit difference allowed for float32 arithmetic in a different order.</summary>
    public const double Float32Tolerance = 1e-3;

    public static TheoryData<string> Models => new(HfFixture.All);

    /// <summary>The fixtures with their own tokenizer cases (the sharded copy shares qwen2-tiny's tokenizer).</summary>
    public static TheoryData<string> Tokenizers => new(HfFixture.All.Where(n => n != "qwen2-tiny-bf16-sharded"));

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void TokenizerMatchesTransformers(string name)
    {
        var fixture = HfFixture.Load(name);
        var tokenizer = HfTokenizer.Load(fixture.Directory);
        Assert.NotEmpty(fixture.Tokenization);
        foreach (var t in fixture.Tokenization)
        {
            Assert.Equal(t.Ids, tokenizer.Encode(t.Text));
            Assert.Equal(t.IdsNoSpecial, tokenizer.Encode(t.Text, addSpecialTokens: false));
            Assert.Equal(t.Decoded, tokenizer.Decode(t.Ids));
            Assert.Equal(t.DecodedWithSpecial, tokenizer.Decode(t.Ids, skipSpecialTokens: false));
        }

        foreach (var prompt in fixture.Prompts)
        {
            Assert.Equal(prompt.PromptIds, tokenizer.Encode(prompt.Text));
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CpuLogitsMatchTransformers(string name)
    {
        var fixture = HfFixture.Load(name);
        using var model = ModelLoader.Load(fixture.Directory);
        using var backend = new CpuBackend(model, numBlocks: 64, blockSize: 16, threads: 2);
        foreach (var prompt in fixture.Prompts)
        {
            var logits = new float[prompt.Positions * prompt.Vocab];
            backend.Forward([new SequenceChunk(prompt.PromptIds, 0, Enumerable.Range(0, 8).ToArray(), LogitsMode.All)], logits);
            for (int t = 0; t < prompt.Positions; t++)
            {
                var row = logits.AsSpan(t * prompt.Vocab, prompt.Vocab);
                var expected = prompt.Row(t);
                double worst = 0;
                for (int v = 0; v < prompt.Vocab; v++)
                {
                    worst = Math.Max(worst, Math.Abs(row[v] - expected[v]));
                }

                Assert.True(worst <= Float32Tolerance, $"{name} '{prompt.Text[..Math.Min(20, prompt.Text.Length)]}' position {t}: max |Δlogit| = {worst:E2}");
                if (Margin(expected) > 10 * Float32Tolerance)
                {
                    Assert.Equal(prompt.Argmax[t], ArgMax(row));
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void CpuGreedyContinuationMatchesTransformers(string name)
    {
        var fixture = HfFixture.Load(name);
        using var model = ModelLoader.Load(fixture.Directory);
        using var backend = new CpuBackend(model, numBlocks: 64, blockSize: 16, threads: 2);
        foreach (var prompt in fixture.Prompts)
        {
            Assert.Equal(prompt.GreedyIds, Greedy(backend, prompt.PromptIds, prompt.GreedyIds.Length, model.Config.VocabSize));
        }
    }

    /// <summary>
    /// The whole engine (scheduler, KV pool, sampler) on the CPU: the prompt text goes in, greedy decoding with EOS
    /// ignored, and the 16 tokens equal transformers' <c>generate(do_sample=False)</c>, for all prompts at once.
    /// </summary>
    [Theory]
    [MemberData(nameof(Tokenizers))]
    public async Task EngineGreedyGenerationMatchesTransformers(string name)
    {
        var fixture = HfFixture.Load(name);
        using var model = ModelLoader.Load(fixture.Directory);
        var tokenizer = HfTokenizer.Load(fixture.Directory);
        using var backend = new CpuBackend(model, numBlocks: 64, blockSize: 16, threads: 2);
        await using var engine = new InferenceEngine(model, backend, new EngineOptions { BlockSize = 16, MaxBatchTokens = 64 });
        var streams = fixture.Prompts.Select((p, i) => engine.Submit(new GenerationRequest
        {
            RequestId = $"{name}-{i}",
            PromptTokenIds = tokenizer.Encode(p.Text),
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = p.GreedyIds.Length, IgnoreEos = true },
        })).ToArray();
        for (int i = 0; i < streams.Length; i++)
        {
            var outputs = await streams[i].CollectAsync(TestContext.Current.CancellationToken);
            Assert.Null(outputs[0].Error);
            Assert.Equal(fixture.Prompts[i].GreedyIds, outputs[0].TokenIds);
        }
    }

    /// <summary>Prefill then one token per step, taking the argmax each time (EOS ignored, as the recording did).</summary>
    internal static int[] Greedy(IComputeBackend backend, int[] prompt, int steps, int vocab)
    {
        int[] table = Enumerable.Range(0, (prompt.Length + steps + backend.Layout.BlockSize) / backend.Layout.BlockSize).ToArray();
        var logits = new float[vocab];
        backend.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.Last)], logits);
        var output = new int[steps];
        for (int i = 0; i < steps; i++)
        {
            output[i] = ArgMax(logits);
            if (i + 1 < steps)
            {
                backend.Forward([new SequenceChunk([output[i]], prompt.Length + i, table, LogitsMode.Last)], logits);
            }
        }

        return output;
    }

    internal static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int v = 1; v < row.Length; v++)
        {
            if (row[v] > row[best])
            {
                best = v;
            }
        }

        return best;
    }

    internal static double Margin(ReadOnlySpan<float> row)
    {
        float first = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (var v in row)
        {
            if (v > first)
            {
                second = first;
                first = v;
            }
            else if (v > second)
            {
                second = v;
            }
        }

        return first - second;
    }
}
