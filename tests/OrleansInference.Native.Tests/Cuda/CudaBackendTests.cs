using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Cpu;
using OrleansInference.Native.Tests.Reference;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// The CUDA backend (bf16 weights and KV) against the double-precision dense reference on the built-in model: whole
/// prompts, chunked prefill over shuffled blocks, batched decode through graphs and eagerly, device argmax, KV blocks.
/// </summary>
[Collection(CudaCollection.Name)]
public sealed class CudaBackendTests(CudaTestDevice device, CudaBackendTests.Data data) : IClassFixture<CudaBackendTests.Data>
{
    /// <summary>Relative L2 error of a logits row allowed for bf16 weights and activations.</summary>
    private const double RowTolerance = 3e-2;

    private LoadedModel Model => data.Model;

    private Data BuiltinData => data;

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void WholePromptPrefillMatchesReference(int attentionVersion)
    {
        device.Require();
        using var backend = Create();
        backend.PrefillAttentionVersion = attentionVersion;
        int vocab = Model.Config.VocabSize;
        var prompt = BuiltinData.Prompt;
        var logits = new float[prompt.Length * vocab];
        backend.Forward([new SequenceChunk(prompt, 0, [5, 2, 9, 0, 7], LogitsMode.All)], logits);
        for (int t = 0; t < prompt.Length; t++)
        {
            AssertRowClose(BuiltinData.Reference[t], logits.AsSpan(t * vocab, vocab), $"position {t}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ChunkedPrefillThenBatchedDecodeMatchesReference(bool graphs)
    {
        device.Require();
        using var backend = Create(graphs);
        int vocab = Model.Config.VocabSize;
        var prompt = BuiltinData.Prompt;
        // Three copies of the same sequence on different shuffled blocks, at different stages in each step.
        int[][] tables = [[17, 3, 22, 0, 9, 14], [1, 20, 5, 11, 30, 8], [25, 6, 13, 27, 2, 19]];
        var logits = new float[prompt.Length * vocab];
        backend.Forward([new SequenceChunk(prompt[..7], 0, tables[0], LogitsMode.None)], logits);
        backend.Forward(
            [
                new SequenceChunk(prompt[7..12], 7, tables[0], LogitsMode.All),
                new SequenceChunk(prompt[..3], 0, tables[1], LogitsMode.Last),
            ],
            logits);
        for (int i = 0; i < 5; i++)
        {
            AssertRowClose(BuiltinData.Reference[7 + i], logits.AsSpan(i * vocab, vocab), $"chunk row {7 + i}");
        }

        AssertRowClose(BuiltinData.Reference[2], logits.AsSpan(5 * vocab, vocab), "second sequence prefill");
        backend.Forward([new SequenceChunk(prompt[..1], 0, tables[2], LogitsMode.Last)], logits);
        AssertRowClose(BuiltinData.Reference[0], logits.AsSpan(0, vocab), "third sequence first token");

        // Decode: each sequence one token per step, all three in every step (a graph bucket of 4 with one pad row).
        int[] next = [12, 3, 1];
        while (next.Min() < prompt.Length)
        {
            var chunks = new List<SequenceChunk>();
            var which = new List<int>();
            for (int s = 0; s < 3; s++)
            {
                if (next[s] < prompt.Length)
                {
                    chunks.Add(new SequenceChunk([prompt[next[s]]], next[s], tables[s], LogitsMode.Last));
                    which.Add(s);
                }
            }

            backend.Forward(chunks, logits);
            for (int i = 0; i < which.Count; i++)
            {
                int s = which[i];
                AssertRowClose(BuiltinData.Reference[next[s]], logits.AsSpan(i * vocab, vocab), $"sequence {s} decode position {next[s]}");
                next[s]++;
            }
        }

        Assert.Equal(graphs ? 3 : 0, backend.CapturedGraphs); // buckets 4, 2 and 1
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(false, false)]
    public void FusedDecodeLayersMatchTheSeparateKernels(bool graphs, bool normInPairs)
    {
        device.Require();
        // Untuned products run on the GEMV with one warp per column, so the fused kernels apply whatever timing says.
        using var fused = Create(graphs, tune: false);
        fused.NormInPairs = normInPairs;
        fused.PersistentDecode = false;  // batch-1 steps too run the five launches per layer compared here
        using var separate = Create(graphs, tune: false);
        separate.FuseSmallBatches = false;
        int vocab = Model.Config.VocabSize;
        var prompt = BuiltinData.Prompt;
        int[][] tables = [[17, 3, 22, 0, 9, 14], [1, 20, 5, 11, 30, 8], [25, 6, 13, 27, 2, 19]];
        var a = new float[3 * vocab];
        var b = new float[3 * vocab];
        foreach (var backend in new[] { fused, separate })
        {
            backend.Forward([new SequenceChunk(prompt[..9], 0, tables[0], LogitsMode.None), new SequenceChunk(prompt[..4], 0, tables[1], LogitsMode.None)], a);
        }

        // Decode steps of 1, 2 and 3 sequences: the KV the fused QKV product stores is read back by later steps, and
        // the residual norm carries each layer's input to the next.
        int[] next = [9, 4, 0];
        for (int step = 0; step < 8; step++)
        {
            int live = 1 + (step % 3);
            var chunks = Enumerable.Range(0, live).Select(s => new SequenceChunk([prompt[next[s]]], next[s], tables[s], LogitsMode.Last)).ToList();
            fused.Forward(chunks, a);
            separate.Forward(chunks, b);
            for (int s = 0; s < live; s++)
            {
                var reference = b.AsSpan(s * vocab, vocab).ToArray().Select(v => (double)v).ToArray();
                AssertRowClose(reference, a.AsSpan(s * vocab, vocab), $"step {step}, sequence {s} at position {next[s]}", 1e-2);
                AssertRowClose(BuiltinData.Reference[next[s]], a.AsSpan(s * vocab, vocab), $"step {step}, sequence {s} vs reference");
                next[s]++;
            }
        }

        using var profiler = new StepProfiler(fused.Context);
        fused.Profiler = profiler;
        fused.Forward([new SequenceChunk([prompt[next[0]]], next[0], tables[0], LogitsMode.Last)], a);
        Assert.Contains("gemm_qkv+rope_store_kv", profiler.TotalMs.Keys);
        Assert.Contains("gemm_gate_up+swiglu", profiler.TotalMs.Keys);
        // The norms ride on the QKV and gate/up GEMVs, or on the O and down GEMVs' last block.
        Assert.Contains(normInPairs ? "gemm_o" : "gemm_o+rms_norm", profiler.TotalMs.Keys);
        Assert.DoesNotContain("swiglu", profiler.TotalMs.Keys);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void PersistentDecodeMatchesTheFusedLayers(bool graphs, bool wide)
    {
        device.Require();
        using var persistent = Create(graphs, tune: false);
        persistent.PersistentWide = wide;
        using var fused = Create(graphs, tune: false);
        fused.PersistentDecode = false;
        int vocab = Model.Config.VocabSize;
        var prompt = BuiltinData.Prompt;
        int[] table = [23, 4, 17, 9, 30, 1];
        var a = new float[vocab];
        var b = new float[vocab];
        persistent.Forward([new SequenceChunk(prompt[..3], 0, table, LogitsMode.None)], a);
        fused.Forward([new SequenceChunk(prompt[..3], 0, table, LogitsMode.None)], b);

        // One-token steps from position 3 on: each reads the KV the persistent kernel stored in the steps before it,
        // across several pages of a shuffled table.
        for (int pos = 3; pos < prompt.Length; pos++)
        {
            var chunk = new SequenceChunk([prompt[pos]], pos, table, LogitsMode.Last);
            persistent.Forward([chunk], a);
            fused.Forward([chunk], b);
            AssertRowClose(b.Select(v => (double)v).ToArray(), a, $"position {pos}", 1e-2);
            AssertRowClose(BuiltinData.Reference[pos], a, $"position {pos} vs reference");
        }

        using var profiler = new StepProfiler(persistent.Context);
        persistent.Profiler = profiler;
        persistent.Forward([new SequenceChunk([prompt[1]], 1, table, LogitsMode.Last)], a);
        Assert.Contains("persistent_decode_layers", profiler.TotalMs.Keys);
        Assert.DoesNotContain("gemm_qkv+rope_store_kv", profiler.TotalMs.Keys);
    }

    [Fact]
    public void GreedyIdsAreTheArgmaxOfTheLogits()
    {
        device.Require();
        using var backend = Create();
        int vocab = Model.Config.VocabSize;
        var prompt = BuiltinData.Prompt;
        var logits = new float[prompt.Length * vocab];
        var chunk = new SequenceChunk(prompt, 0, [0, 1, 2, 3, 4], LogitsMode.All);
        backend.Forward([chunk], logits);
        var ids = new int[prompt.Length];
        backend.ForwardGreedy([chunk], ids);
        for (int t = 0; t < prompt.Length; t++)
        {
            var row = logits.AsSpan(t * vocab, vocab);
            int best = 0;
            for (int v = 1; v < vocab; v++)
            {
                if (row[v] > row[best])
                {
                    best = v;
                }
            }

            Assert.Equal(best, ids[t]);
        }

        // Through the decode graph as well.
        var one = new int[1];
        backend.ForwardGreedy([new SequenceChunk([prompt[^1]], prompt.Length - 1, [0, 1, 2, 3, 4], LogitsMode.Last)], one);
        Assert.Equal(ids[^1], one[0]);
    }

    [Fact]
    public void KvBlocksRoundTripAndCopy()
    {
        device.Require();
        using var backend = Create();
        var layout = backend.Layout;
        Assert.Equal(DType.BF16, layout.ElementType);
        var prompt = BuiltinData.Prompt;
        backend.Forward([new SequenceChunk(prompt[..8], 0, [3, 4, 5], LogitsMode.None)], []);
        var block3 = new byte[layout.BlockBytes];
        backend.ReadBlock(3, block3);
        Assert.Contains(block3, b => b != 0);

        backend.CopyBlock(3, 10);
        var copy = new byte[layout.BlockBytes];
        backend.ReadBlock(10, copy);
        Assert.Equal(block3, copy);

        var pattern = Enumerable.Range(0, (int)layout.BlockBytes).Select(i => (byte)(i * 31)).ToArray();
        backend.WriteBlock(11, pattern);
        backend.ReadBlock(11, copy);
        Assert.Equal(pattern, copy);

        // A sequence continued on a block imported from another holds the same cache: same logits.
        int vocab = Model.Config.VocabSize;
        var a = new float[vocab];
        var b = new float[vocab];
        backend.WriteBlock(12, block3);
        backend.Forward([new SequenceChunk([prompt[8]], 8, [3, 4, 5], LogitsMode.Last)], a);
        backend.Forward([new SequenceChunk(prompt[..8], 0, [20, 21, 22], LogitsMode.None)], []);
        backend.Forward([new SequenceChunk([prompt[8]], 8, [12, 21, 22], LogitsMode.Last)], b);
        Assert.Equal(a, b);

        Assert.Throws<ArgumentOutOfRangeException>(() => backend.ReadBlock(layout.NumBlocks, copy));
        Assert.Throws<ArgumentException>(() => backend.WriteBlock(0, new byte[3]));
    }

    [Fact]
    public void BadChunksAreRefusedWithClearErrors()
    {
        device.Require();
        using var backend = Create();
        var e = Assert.Throws<ArgumentException>(() => backend.Forward([new SequenceChunk([1, 2], 0, [64], LogitsMode.Last)], new float[Model.Config.VocabSize]));
        Assert.Contains("outside the pool", e.Message);
        e = Assert.Throws<ArgumentException>(() => backend.Forward([new SequenceChunk([Model.Config.VocabSize], 0, [0], LogitsMode.Last)], new float[Model.Config.VocabSize]));
        Assert.Contains("outside the vocabulary", e.Message);
        e = Assert.Throws<ArgumentException>(() => backend.Forward([new SequenceChunk([1], 0, [0], LogitsMode.Last)], new float[10]));
        Assert.Contains("buffer holds", e.Message);
    }

    [Fact]
    public void TryCreateExplainsAMissingDevice()
    {
        device.Require();
        var backend = CudaBackend.TryCreate(Model, deviceOrdinal: 99, numBlocks: 4, blockSize: 16, out var whyNot);
        Assert.Null(backend);
        Assert.Contains("99", whyNot);
    }

    private CudaBackend Create(bool graphs = true, bool tune = true) =>
        new(Model, 0, numBlocks: 64, blockSize: 4, new CudaBackendOptions { KernelCacheDirectory = device.KernelCache, UseCudaGraphs = graphs, MaxBatchTokens = 64, MaxSequences = 8, TuneMatMul = tune });

    private static void AssertRowClose(double[] expected, ReadOnlySpan<float> actual, string what, double tolerance = RowTolerance)
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
        Assert.True(rel <= tolerance, $"{what}: relative error {rel:E2}");
        double margin = expected[best] - expected.Where((_, i) => i != best).Max();
        if (margin > 0.05 * Math.Sqrt(norm / expected.Length))
        {
            Assert.Equal(best, bestActual);
        }
    }

    /// <summary>The built-in model, a prompt and its double-precision reference logits (computed once).</summary>
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

        /// <summary>Computed on first use, so machines without a GPU skip the work.</summary>
        public double[][] Reference => _reference.Value;

        public void Dispose() => Model.Dispose();
    }
}
