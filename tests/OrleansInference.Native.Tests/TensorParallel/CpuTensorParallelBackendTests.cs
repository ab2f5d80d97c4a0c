using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Cpu;
using Xunit;

namespace OrleansInference.Native.Tests.TensorParallel;

/// <summary>
/// Simulated tensor parallelism on the CPU: the model split by the shard planner, each rank's partial computation on
/// the CPU kernels, partial sums added after o_proj and down_proj, must equal the unsplit <see cref="CpuBackend"/>
/// (float32, so only summation order differs) — prefill, chunked prefill, batched decode, biases, KV blocks.
/// </summary>
public sealed class CpuTensorParallelBackendTests(CpuModelFixture fixture) : IClassFixture<CpuModelFixture>
{
    /// <summary>Largest |Δlogit| allowed, relative to the row's largest |logit| (at least 1).</summary>
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("builtin", 2)]
    [InlineData("qwen2", 2)]
    [InlineData("llama-bias", 2)]
    public void WholePromptLogitsEqualTheUnsplitBackend(string name, int ranks)
    {
        var (model, prompt, _) = fixture.Get(name);
        int vocab = model.Config.VocabSize;
        int[] table = [3, 0, 9, 5, 1, 7, 2, 8, 6, 4];
        using var single = new CpuBackend(model, 10, 4, threads: 1);
        using var split = new CpuTensorParallelBackend(model, ranks, 10, 4);
        var expected = new float[prompt.Length * vocab];
        var actual = new float[prompt.Length * vocab];
        single.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.All)], expected);
        split.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.All)], actual);
        for (int t = 0; t < prompt.Length; t++)
        {
            AssertRowClose(expected.AsSpan(t * vocab, vocab), actual.AsSpan(t * vocab, vocab), $"{name} position {t}");
        }

        Assert.Equal($"cpu-tp{ranks}", split.Name);
        Assert.Same(model.Config, split.Model);
        Assert.Equal(single.Layout, split.Layout);
    }

    [Fact]
    public void FourRanksOfAWiderModelEqualTheUnsplitBackend()
    {
        var config = BuiltinModel.Config with { NumHeads = 8, NumKvHeads = 4, HeadDim = 8, IntermediateSize = 96, VocabSize = 211, AttentionBias = true };
        using var model = new LoadedModel("tp4", config, SyntheticWeights.Generate(config, 11, "test"), TokenizerBinding.Builtin, null);
        var prompt = CpuModelFixture.MakePrompt(config.VocabSize, 21, seed: 3);
        using var single = new CpuBackend(model, 16, 4, threads: 1);
        using var split = new CpuTensorParallelBackend(model, 4, 16, 4);
        AssertStepsMatch(single, split, prompt, config.VocabSize);
    }

    [Fact]
    public void ChunkedPrefillAndBatchedDecodeEqualTheUnsplitBackend()
    {
        var model = fixture.Builtin;
        using var single = new CpuBackend(model, 16, 4, threads: 1);
        using var split = new CpuTensorParallelBackend(model, 2, 16, 4, threadsPerRank: 2);
        AssertStepsMatch(single, split, fixture.BuiltinPrompt, model.Config.VocabSize);
    }

    [Fact]
    public void KvBlocksReadInTheUnsplitLayoutAndWrittenBackContinueTheSequence()
    {
        var model = fixture.Builtin;
        int vocab = model.Config.VocabSize;
        var prompt = fixture.BuiltinPrompt[..13];
        int next = fixture.BuiltinPrompt[13];
        int[] table = [0, 1, 2, 3];
        using var single = new CpuBackend(model, 8, 4, threads: 1);
        using var split = new CpuTensorParallelBackend(model, 2, 8, 4);
        single.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.None)], []);
        split.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.None)], []);

        // The split backend's blocks, read whole, are the single backend's blocks (all KV heads, same order).
        var a = new byte[single.Layout.BlockBytes];
        var b = new byte[split.Layout.BlockBytes];
        for (int block = 0; block < 4; block++)
        {
            single.ReadBlock(block, a);
            split.ReadBlock(block, b);
            var fa = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(a);
            var fb = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(b);
            for (int i = 0; i < fa.Length; i++)
            {
                Assert.True(Math.Abs(fa[i] - fb[i]) <= 1e-5 * Math.Max(1, Math.Abs(fa[i])), $"block {block} element {i}: {fa[i]} vs {fb[i]}");
            }
        }

        // Blocks of the single backend written into a fresh split backend at other ids: decoding continues the same.
        using var target = new CpuTensorParallelBackend(model, 2, 8, 4);
        int[] moved = [5, 7, 0, 2];
        for (int block = 0; block < 4; block++)
        {
            single.ReadBlock(block, a);
            target.WriteBlock(moved[block], a);
        }

        var expected = new float[vocab];
        var actual = new float[vocab];
        single.Forward([new SequenceChunk([next], 13, table, LogitsMode.Last)], expected);
        target.Forward([new SequenceChunk([next], 13, moved, LogitsMode.Last)], actual);
        AssertRowClose(expected, actual, "after transfer");

        target.CopyBlock(moved[3], 6);
        target.ReadBlock(6, b);
        target.ReadBlock(moved[3], a);
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => target.ReadBlock(0, new byte[10]));
    }

    [Fact]
    public void BadInputIsRefusedByEveryRankAndTheBackendStaysUsable()
    {
        var model = fixture.Builtin;
        int vocab = model.Config.VocabSize;
        using var split = new CpuTensorParallelBackend(model, 2, 8, 4);
        var e = Assert.Throws<ArgumentException>(() => split.Forward([new SequenceChunk([vocab + 3], 0, [0], LogitsMode.Last)], new float[vocab]));
        Assert.Contains("outside the vocabulary", e.Message);
        Assert.Throws<ArgumentException>(() => split.Forward([new SequenceChunk([1, 2], 0, [0], LogitsMode.All)], new float[vocab]));

        using var single = new CpuBackend(model, 8, 4, threads: 1);
        var expected = new float[vocab];
        var actual = new float[vocab];
        single.Forward([new SequenceChunk([1, 2, 3], 0, [0], LogitsMode.Last)], expected);
        split.Forward([new SequenceChunk([1, 2, 3], 0, [0], LogitsMode.Last)], actual);
        AssertRowClose(expected, actual, "after refused steps");
    }

    [Fact]
    public void ModelsThatDoNotSplitAreRefused()
    {
        var e = Assert.Throws<NotSupportedException>(() => new CpuTensorParallelBackend(fixture.Builtin, 4, 8, 4));
        Assert.Contains("2 KV heads", e.Message);
    }

    /// <summary>A prompt in three chunks over two sequences, then batched decode, step by step on both backends.</summary>
    internal static void AssertStepsMatch(IComputeBackend single, IComputeBackend split, int[] prompt, int vocab)
    {
        int[][] tables = [[9, 3, 14, 0, 6, 11], [1, 12, 5, 8, 15, 2]];
        var expected = new float[prompt.Length * vocab];
        var actual = new float[prompt.Length * vocab];
        void Step(SequenceChunk[] chunks, int rows, string what)
        {
            single.Forward(chunks, expected);
            split.Forward(chunks, actual);
            for (int r = 0; r < rows; r++)
            {
                AssertRowClose(expected.AsSpan(r * vocab, vocab), actual.AsSpan(r * vocab, vocab), $"{what} row {r}");
            }
        }

        Step([new SequenceChunk(prompt[..7], 0, tables[0], LogitsMode.None)], 0, "first chunk");
        Step([new SequenceChunk(prompt[7..12], 7, tables[0], LogitsMode.All), new SequenceChunk(prompt[..3], 0, tables[1], LogitsMode.Last)], 6, "second chunk");
        int[] next = [12, 3];
        for (int step = 0; step < 8; step++)
        {
            var chunks = next.Select((p, s) => new SequenceChunk([prompt[p]], p, tables[s], LogitsMode.Last)).ToArray();
            Step(chunks, 2, $"decode {step}");
            next = next.Select(p => p + 1).ToArray();
        }
    }

    internal static void AssertRowClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        double scale = 1, worst = 0;
        int at = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            double d = Math.Abs(expected[i] - actual[i]);
            if (d > worst)
            {
                worst = d;
                at = i;
            }
        }

        Assert.True(worst <= Tolerance * scale, $"{what}: |Δ| = {worst:G3} at {at} ({expected[at]} vs {actual[at]}), allowed {Tolerance * scale:G3}");
    }
}
