using OrleansInference.Native.Cuda;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// The paged attention kernels against a plain double-precision attention over the same bf16 data: block tables are
/// shuffled across the pool and contexts span from one to hundreds of blocks.
/// </summary>
[Collection(CudaCollection.Name)]
public sealed unsafe class PagedAttentionKernelTests(CudaTestDevice device)
{
    private const int BlockSize = 16;
    private const int HeadDim = 64;
    private const int Heads = 8;
    private const int KvHeads = 2;
    private const int Layers = 2;
    private const int PoolBlocks = 700;
    private const long PlaneElements = (long)BlockSize * KvHeads * HeadDim;
    private const long LayerElements = 2 * PlaneElements;
    private const long BlockElements = Layers * LayerElements;
    private const int Layer = 1;

    private static readonly ModelConfig Config = new()
    {
        ModelType = "llama",
        HiddenSize = Heads * HeadDim,
        IntermediateSize = 128,
        NumLayers = Layers,
        NumHeads = Heads,
        NumKvHeads = KvHeads,
        HeadDim = HeadDim,
        VocabSize = 16,
    };

    private static readonly float ScaleLog2 = (float)(1.4426950408889634 / Math.Sqrt(HeadDim));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(16, 1)]
    [InlineData(1, 2)]
    [InlineData(3, 2)]
    [InlineData(16, 2)]
    // Splits past the merge's batch of 16 (37) merge in several batches.
    [InlineData(37, 2)]
    public void DecodeMatchesReference(int splits, int version)
    {
        var ctx = device.Require();
        int[] contexts = [1, 15, 16, 17, 100, 1000, 3000, 257];
        using var env = new Env(ctx, device.KernelCache, seed: 11);
        var tables = env.Tables(contexts);
        int width = tables.Max(t => t.Length);
        int s = contexts.Length;
        using var q = ctx.Allocate((long)s * Heads * HeadDim * 2);
        env.Fill(q.Pointer, (long)s * Heads * HeadDim, 99, 1.5f);
        using var ints = Upload(ctx, env.Stream, [.. Enumerable.Range(0, s), .. contexts, width, .. Flatten(tables, width)]);
        using var partO = ctx.Allocate((long)splits * s * Heads * HeadDim * 4);
        using var partMl = ctx.Allocate((long)splits * s * Heads * 2 * 4);
        using var output = ctx.Allocate((long)s * Heads * HeadDim * 2);
        ulong rowOf = ints.Pointer, ctxLens = rowOf + (ulong)(4 * s), stride = ctxLens + (ulong)(4 * s), tablePtr = stride + 4;
        var args = new KernelArgs().Ptr(q).Ptr(rowOf).Ptr(ctxLens).Ptr(tablePtr).Ptr(stride).Ptr(env.Pool)
            .Long(BlockElements).Long(Layer * LayerElements).Long(PlaneElements).Int(Heads).Float(ScaleLog2).Ptr(partO).Ptr(partMl);
        if (version == 2)
        {
            // Twice: the kernel merges its own splits and must leave its completion counters re-armed.
            using var counters = ctx.Allocate(s * KvHeads * 4L);
            ctx.Memset(counters.Pointer, 0, counters.Bytes, env.Stream);
            args = args.Ptr(counters).Ptr(output);
            ctx.Launch(env.Kernels.DecodeAttentionV2, ((uint)splits, KvHeads, (uint)s), 128, 0, env.Stream, ref args);
            ctx.Memset(output.Pointer, 0xff, output.Bytes, env.Stream);
            ctx.Launch(env.Kernels.DecodeAttentionV2, ((uint)splits, KvHeads, (uint)s), 128, 0, env.Stream, ref args);
            env.Stream.Synchronize();
        }
        else
        {
            ctx.Launch(env.Kernels.DecodeAttention, ((uint)splits, KvHeads, (uint)s), 128, 0, env.Stream, ref args);
            args = new KernelArgs().Ptr(partO).Ptr(partMl).Ptr(rowOf).Int(splits).Int(s).Int(Heads).Ptr(output);
            ctx.Launch(env.Kernels.DecodeMerge, ((uint)s, Heads, 1), HeadDim, 0, env.Stream, ref args);
        }

        var hq = env.Read(q.Pointer, (long)s * Heads * HeadDim);
        var ho = env.Read(output.Pointer, (long)s * Heads * HeadDim);
        var pool = env.ReadPool();
        for (int i = 0; i < s; i++)
        {
            for (int h = 0; h < Heads; h++)
            {
                var expected = Reference(pool, tables[i], hq.AsSpan(((i * Heads) + h) * HeadDim, HeadDim), h / (Heads / KvHeads), contexts[i] - 1);
                AssertClose(expected, ho.AsSpan(((i * Heads) + h) * HeadDim, HeadDim), $"v{version} seq {i} (context {contexts[i]}) head {h}, {splits} splits");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PrefillOverPagesMatchesCausalReference(int version)
    {
        var ctx = device.Require();
        // (start position, length): whole prompts, continuations after a cached prefix, a tile boundary, a long tail.
        (int Start, int Len)[] chunks = [(0, 70), (37, 5), (100, 130), (0, 64), (1000, 200), (15, 2)];
        using var env = new Env(ctx, device.KernelCache, seed: 23);
        var tables = env.Tables(chunks.Select(c => c.Start + c.Len).ToArray());
        int width = tables.Max(t => t.Length);
        int tokens = chunks.Sum(c => c.Len);
        using var q = ctx.Allocate((long)tokens * Heads * HeadDim * 2);
        env.Fill(q.Pointer, (long)tokens * Heads * HeadDim, 7, 1.5f);
        var info = new List<int>();
        var tiles = new List<int>();
        int tok = 0;
        for (int c = 0; c < chunks.Length; c++)
        {
            info.AddRange([tok, chunks[c].Start, chunks[c].Len, c]);
            for (int q0 = 0; q0 < chunks[c].Len; q0 += version == 3 ? 128 : 64)
            {
                tiles.AddRange([c, q0]);
            }

            tok += chunks[c].Len;
        }

        using var ints = Upload(ctx, env.Stream, [.. tiles, .. info, width, .. Flatten(tables, width)]);
        ulong tilesPtr = ints.Pointer, infoPtr = tilesPtr + (ulong)(4 * tiles.Count), stride = infoPtr + (ulong)(4 * info.Count), tablePtr = stride + 4;
        using var output = ctx.Allocate((long)tokens * Heads * HeadDim * 2);
        ctx.Memset(output.Pointer, 0xff, output.Bytes, env.Stream);
        var args = new KernelArgs().Ptr(q).Ptr(tilesPtr).Ptr(infoPtr).Ptr(tablePtr).Ptr(stride).Ptr(env.Pool)
            .Long(BlockElements).Long(Layer * LayerElements).Long(PlaneElements).Int(Heads).Float(ScaleLog2).Ptr(output);
        if (version == 3)
        {
            ctx.Launch(env.Kernels.PrefillAttentionV3, (Heads, (uint)(tiles.Count / 2), 1), 128, (uint)env.Kernels.PrefillAttentionV2SharedBytes, env.Stream, ref args);
        }
        else if (version == 2)
        {
            ctx.Launch(env.Kernels.PrefillAttentionV2, (Heads, (uint)(tiles.Count / 2), 1), 128, (uint)env.Kernels.PrefillAttentionV2SharedBytes, env.Stream, ref args);
        }
        else
        {
            ctx.Launch(env.Kernels.PrefillAttention, (Heads, (uint)(tiles.Count / 2), 1), 128, 0, env.Stream, ref args);
        }


        var hq = env.Read(q.Pointer, (long)tokens * Heads * HeadDim);
        var ho = env.Read(output.Pointer, (long)tokens * Heads * HeadDim);
        var pool = env.ReadPool();
        tok = 0;
        for (int c = 0; c < chunks.Length; c++)
        {
            for (int i = 0; i < chunks[c].Len; i++, tok++)
            {
                for (int h = 0; h < Heads; h++)
                {
                    var expected = Reference(pool, tables[c], hq.AsSpan(((tok * Heads) + h) * HeadDim, HeadDim), h / (Heads / KvHeads), chunks[c].Start + i);
                    AssertClose(expected, ho.AsSpan(((tok * Heads) + h) * HeadDim, HeadDim), $"v{version} chunk {c} row {i} head {h}");
                }
            }
        }
    }

    private static int[] Flatten(int[][] tables, int width)
    {
        var flat = new int[tables.Length * width];
        for (int i = 0; i < tables.Length; i++)
        {
            tables[i].CopyTo(flat, i * width);
        }

        return flat;
    }

    private static DeviceBuffer Upload(CudaContext ctx, CudaStream stream, int[] data)
    {
        var b = ctx.Allocate(data.Length * 4L);
        ctx.CopyToDevice(b.Pointer, (ReadOnlySpan<int>)data, stream);
        return b;
    }

    /// <summary>softmax(q·kᵀ/√d)·v over positions [0, last] of one KV head, in double.</summary>
    private static double[] Reference(ushort[] pool, int[] table, ReadOnlySpan<ushort> q, int kvHead, int last)
    {
        var scores = new double[last + 1];
        double max = double.NegativeInfinity;
        for (int j = 0; j <= last; j++)
        {
            long k = Offset(table, j, kvHead);
            double s = 0;
            for (int d = 0; d < HeadDim; d++)
            {
                s += CudaInteropTests.Bf(q[d]) * CudaInteropTests.Bf(pool[k + d]);
            }

            scores[j] = s / Math.Sqrt(HeadDim);
            max = Math.Max(max, scores[j]);
        }

        var output = new double[HeadDim];
        double sum = 0;
        for (int j = 0; j <= last; j++)
        {
            double p = Math.Exp(scores[j] - max);
            sum += p;
            long v = Offset(table, j, kvHead) + PlaneElements;
            for (int d = 0; d < HeadDim; d++)
            {
                output[d] += p * CudaInteropTests.Bf(pool[v + d]);
            }
        }

        for (int d = 0; d < HeadDim; d++)
        {
            output[d] /= sum;
        }

        return output;
    }

    private static long Offset(int[] table, int position, int kvHead) =>
        (table[position / BlockSize] * BlockElements) + (Layer * LayerElements) + ((((long)(position % BlockSize) * KvHeads) + kvHead) * HeadDim);

    private static void AssertClose(double[] expected, ReadOnlySpan<ushort> actual, string what)
    {
        double err = 0, norm = 0, maxAbs = 0;
        for (int d = 0; d < expected.Length; d++)
        {
            double a = CudaInteropTests.Bf(actual[d]);
            Assert.False(double.IsNaN(a), $"{what}: NaN at {d}");
            err += (a - expected[d]) * (a - expected[d]);
            norm += expected[d] * expected[d];
            maxAbs = Math.Max(maxAbs, Math.Abs(a - expected[d]));
        }

        Assert.True(Math.Sqrt(err / Math.Max(norm, 1e-12)) < 1.5e-2 && maxAbs < 2e-2, $"{what}: relative error {Math.Sqrt(err / norm):E2}, max abs {maxAbs:E2}");
    }

    /// <summary>A compiled kernel set, a random pool and a stream.</summary>
    private sealed class Env : IDisposable
    {
        private readonly CudaContext _ctx;
        private readonly Random _rng;

        public Env(CudaContext ctx, string cache, int seed)
        {
            _ctx = ctx;
            _rng = new Random(seed);
            Stream = ctx.CreateStream();
            Kernels = new CudaKernelSet(ctx, new KernelCompiler(NvrtcApi.Load(), cache), Config, BlockSize);
            Pool = ctx.Allocate(PoolBlocks * BlockElements * 2);
            Fill(Pool.Pointer, PoolBlocks * BlockElements, (ulong)seed, 2f);
        }

        public CudaStream Stream { get; }

        public CudaKernelSet Kernels { get; }

        public DeviceBuffer Pool { get; }

        /// <summary>Disjoint block tables drawn from a shuffled pool, one per context length.</summary>
        public int[][] Tables(int[] lengths)
        {
            var free = Enumerable.Range(0, PoolBlocks).OrderBy(_ => _rng.Next()).ToArray();
            int next = 0;
            return lengths.Select(n => free[next..(next += (n + BlockSize - 1) / BlockSize)]).ToArray();
        }

        public void Fill(ulong pointer, long count, ulong seed, float scale)
        {
            var args = new KernelArgs().Ptr(pointer).Long(count).Long((long)seed).Float(scale);
            _ctx.Launch(Kernels.FillRandom, (1024, 1, 1), 256, 0, Stream, ref args);
        }

        public ushort[] Read(ulong pointer, long count)
        {
            var host = new ushort[count];
            _ctx.CopyToHost<ushort>(host, pointer, Stream);
            Stream.Synchronize();
            return host;
        }

        public ushort[] ReadPool() => Read(Pool.Pointer, PoolBlocks * BlockElements);

        public void Dispose()
        {
            Pool.Dispose();
            Kernels.Dispose();
            Stream.Dispose();
        }
    }
}
