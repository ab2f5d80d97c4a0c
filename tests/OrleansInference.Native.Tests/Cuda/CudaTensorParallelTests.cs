using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Cpu;
using OrleansInference.Native.Tests.Reference;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// <see cref="CudaTensorParallelBackend"/> on the built-in model (4 heads, 2 KV heads, MLP 128: splits in two): a
/// one-GPU group against <see cref="CudaBackend"/> (the NCCL plumbing, on any GPU machine), and with two GPUs TP=2
/// against TP=1 and the double-precision reference — logits, greedy tokens, graphs, KV blocks. Tests needing two
/// GPUs are skipped, saying so, on machines with fewer.
/// </summary>
[Collection(CudaCollection.Name)]
public sealed class CudaTensorParallelTests(CudaTestDevice device, CudaTensorParallelTests.Data data) : IClassFixture<CudaTensorParallelTests.Data>
{
    /// <summary>Relative L2 error of a logits row against the double-precision reference (bf16 weights and activations).</summary>
    private const double ReferenceTolerance = 3e-2;

    /// <summary>Relative L2 difference of TP=2 and TP=1 rows: both bf16, only summation order and split products differ.</summary>
    private const double SplitTolerance = 1e-2;

    private LoadedModel Model => data.Model;

    [Fact]
    public void OneGpuGroupEqualsTheSingleGpuBackend()
    {
        device.Require();
        using var single = Single(graphs: true);
        using var group = Group([0], graphs: true);
        Assert.Equal("cuda:0", group.Name);
        Assert.Equal(single.Layout, group.Layout);
        AssertStepsMatch(single, group, 1e-5);
        Assert.True(group.CapturedGraphs > 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TwoGpusMatchOneGpuAndTheReference(bool graphs)
    {
        RequireTwoGpus();
        using var single = Single(graphs);
        using var split = Group([0, 1], graphs);
        Assert.Equal("cuda:0,1", split.Name);
        Assert.Equal(2, split.Ranks);
        int vocab = Model.Config.VocabSize;
        var prompt = data.Prompt;
        var logits = new float[prompt.Length * vocab];
        split.Forward([new SequenceChunk(prompt, 0, [5, 2, 9, 0, 7], LogitsMode.All)], logits);
        for (int t = 0; t < prompt.Length; t++)
        {
            AssertRowClose(data.Reference[t], logits.AsSpan(t * vocab, vocab), ReferenceTolerance, $"position {t} vs reference");
        }

        AssertStepsMatch(single, split, SplitTolerance);
        Assert.Equal(graphs, split.CapturedGraphs > 0);
    }

    [Fact]
    public void TwoGpusGreedyTokensEqualOneGpu()
    {
        RequireTwoGpus();
        using var single = Single(graphs: true);
        using var split = Group([0, 1], graphs: true);
        var a = Greedy(single.ForwardGreedy, 24);
        var b = Greedy(split.ForwardGreedy, 24);
        Assert.Equal(a, b);
    }

    [Fact]
    public void TwoGpuKvBlocksAreTheSingleGpuLayout()
    {
        RequireTwoGpus();
        using var single = Single(graphs: false);
        using var split = Group([0, 1], graphs: false);
        int vocab = Model.Config.VocabSize;
        var prompt = data.Prompt[..13];
        int[] table = [0, 1, 2, 3];
        single.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.None)], []);
        split.Forward([new SequenceChunk(prompt, 0, table, LogitsMode.None)], []);
        var a = new byte[single.Layout.BlockBytes];
        var b = new byte[split.Layout.BlockBytes];
        for (int block = 0; block < 4; block++)
        {
            single.ReadBlock(block, a);
            split.ReadBlock(block, b);
            var fa = Bf16(a);
            var fb = Bf16(b);
            double worst = 0;
            for (int i = 0; i < fa.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(fa[i] - fb[i]) / Math.Max(1, Math.Abs(fa[i])));
            }

            Assert.True(worst <= 2e-2, $"block {block}: worst relative K/V difference {worst:E2}");
        }

        // The single GPU's blocks, written into the split pools at other ids, continue the sequence.
        int[] moved = [9, 4, 11, 6];
        for (int block = 0; block < 4; block++)
        {
            single.ReadBlock(block, a);
            split.WriteBlock(moved[block], a);
            split.ReadBlock(moved[block], b);
            Assert.Equal(a, b);
        }

        var logits = new float[vocab];
        split.Forward([new SequenceChunk([data.Prompt[13]], 13, moved, LogitsMode.Last)], logits);
        AssertRowClose(data.Reference[13], logits, ReferenceTolerance, "after transfer");
    }

    [Fact]
    public void GroupsThatCannotBeMadeSayWhy()
    {
        device.Require();
        Assert.Null(CudaTensorParallelBackend.TryCreate(Model, [0, 63], 8, 4, Options(true), out var whyNot));
        Assert.Contains("GPUs", whyNot);
        Assert.Throws<ArgumentException>(() => new CudaTensorParallelBackend(Model, [0, 0], 8, 4, Options(true)));
        var e = Assert.Throws<NotSupportedException>(() => new CudaTensorParallelBackend(Model, [0, 1, 2, 3], 8, 4, Options(true)));
        Assert.Contains("2 KV heads", e.Message);
    }

    private void RequireTwoGpus()
    {
        var context = device.Require();
        int count = context.Api.DeviceCount();
        Assert.SkipWhen(count < 2, $"tensor parallelism needs 2 CUDA GPUs; {count} present");
    }

    private CudaBackendOptions Options(bool graphs) =>
        new() { KernelCacheDirectory = device.KernelCache, UseCudaGraphs = graphs, MaxBatchTokens = 64, MaxSequences = 8, TuneMatMul = false };

    private CudaBackend Single(bool graphs) => new(Model, 0, 64, 4, Options(graphs));

    private CudaTensorParallelBackend Group(int[] gpus, bool graphs) => new(Model, gpus, 64, 4, Options(graphs));

    private delegate void GreedyStep(IReadOnlyList<SequenceChunk> chunks, Span<int> ids);

    /// <summary>The prompt, then <paramref name="steps"/> greedy tokens, each fed back (decode graphs).</summary>
    private int[] Greedy(GreedyStep step, int steps)
    {
        var prompt = data.Prompt;
        int[] table = Enumerable.Range(20, 12).ToArray();
        var ids = new int[1];
        step([new SequenceChunk(prompt, 0, table, LogitsMode.Last)], ids);
        var output = new List<int> { ids[0] };
        for (int i = 1; i < steps; i++)
        {
            step([new SequenceChunk([output[^1]], prompt.Length + i - 1, table, LogitsMode.Last)], ids);
            output.Add(ids[0]);
        }

        return output.ToArray();
    }

    /// <summary>Chunked prefill over two sequences, then batched decode, step by step on both backends.</summary>
    private void AssertStepsMatch(IComputeBackend single, IComputeBackend split, double tolerance)
    {
        int vocab = Model.Config.VocabSize;
        var prompt = data.Prompt;
        int[][] tables = [[17, 3, 22, 0, 9, 14], [1, 20, 5, 11, 30, 8]];
        var expected = new float[prompt.Length * vocab];
        var actual = new float[prompt.Length * vocab];
        void Step(SequenceChunk[] chunks, int rows, string what)
        {
            single.Forward(chunks, expected);
            split.Forward(chunks, actual);
            for (int r = 0; r < rows; r++)
            {
                AssertRowClose(expected.AsSpan(r * vocab, vocab).ToArray().Select(v => (double)v).ToArray(), actual.AsSpan(r * vocab, vocab), tolerance, $"{what} row {r}");
            }
        }

        Step([new SequenceChunk(prompt[..7], 0, tables[0], LogitsMode.None)], 0, "first chunk");
        Step([new SequenceChunk(prompt[7..12], 7, tables[0], LogitsMode.All), new SequenceChunk(prompt[..3], 0, tables[1], LogitsMode.Last)], 6, "second chunk");
        int[] next = [12, 3];
        for (int step = 0; step < 6; step++)
        {
            var chunks = next.Select((p, s) => new SequenceChunk([prompt[p]], p, tables[s], LogitsMode.Last)).ToArray();
            Step(chunks, 2, $"decode {step}");
            next = next.Select(p => p + 1).ToArray();
        }
    }

    private static float[] Bf16(byte[] bytes)
    {
        var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bytes);
        var values = new float[bits.Length];
        DTypeConversion.BFloat16ToFloat32(bits, values);
        return values;
    }

    private static void AssertRowClose(double[] expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        double err = 0, norm = 0;
        int best = 0, bestActual = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.False(float.IsNaN(actual[i]), $"{what}: NaN at {i}");
            err += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
            best = expected[i] > expected[best] ? i : best;
            bestActual = actual[i] > actual[bestActual] ? i : bestActual;
        }

        double rel = Math.Sqrt(err / norm);
        Assert.True(rel <= tolerance, $"{what}: relative error {rel:E2} (allowed {tolerance:E1})");
        double margin = expected[best] - expected.Where((_, i) => i != best).Max();
        if (margin > 0.05 * Math.Sqrt(norm / expected.Length))
        {
            Assert.Equal(best, bestActual);
        }
    }

    /// <summary>The built-in model, a prompt and its double-precision reference logits (computed once, on first use).</summary>
    public sealed class Data : IDisposable
    {
        private readonly Lazy<double[][]> _reference;

        public Data()
        {
            Model = BuiltinModel.Create(1234);
            Prompt = CpuModelFixture.MakePrompt(Model.Config.VocabSize, 19, seed: 5);
            _reference = new(() => new DenseReferenceModel(Model.Config, Model.Tensors).Logits(Prompt));
        }

        public LoadedModel Model { get; }

        public int[] Prompt { get; }

        public double[][] Reference => _reference.Value;

        public void Dispose() => Model.Dispose();
    }
}
