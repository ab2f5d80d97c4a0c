using System.Runtime.InteropServices;
using OrleansInference.Native.Interop;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

[Collection(CudaCollection.Name)]
public sealed unsafe class CudaInteropTests(CudaTestDevice device)
{
    private const string SaxpySource = """
        extern "C" __global__ void saxpy(float a, const float* x, float* y, int n)
        {
            int i = blockIdx.x * blockDim.x + threadIdx.x;
            if (i < n) y[i] = a * x[i] + y[i];
        }
        """;

    [Fact]
    public void DeviceReportsHopperOrNewerFacts()
    {
        var ctx = device.Require();
        Assert.True(ctx.ComputeMajor >= 7, $"compute capability {ctx.ComputeMajor}.{ctx.ComputeMinor}");
        Assert.True(ctx.MultiprocessorCount > 0);
        Assert.True(ctx.TotalMemoryBytes > 1L << 30);
        Assert.True(ctx.DriverVersion >= 12000, $"driver {ctx.DriverVersion}");
        var (free, total) = ctx.MemoryInfo();
        Assert.InRange(free, 1, total);
    }

    [Fact]
    public void MemoryRoundTripsThroughDeviceWithMemsetAndDeviceCopy()
    {
        var ctx = device.Require();
        using var stream = ctx.CreateStream();
        using var a = ctx.Allocate(4096 * 4);
        using var b = ctx.Allocate(4096 * 4);
        var data = Enumerable.Range(0, 4096).Select(i => (i * 7919) ^ 0x5a5a).ToArray();
        ctx.CopyToDevice(a.Pointer, (ReadOnlySpan<int>)data, stream);
        ctx.Memset32(b.Pointer, 0xdeadbeef, 4096, stream);
        ctx.CopyDeviceToDevice(b.Pointer + 400, a.Pointer + 400, 800, stream);
        var back = new int[4096];
        ctx.CopyToHost<int>(back, b.Pointer, stream);
        stream.Synchronize();
        for (int i = 0; i < 4096; i++)
        {
            int expected = i >= 100 && i < 300 ? data[i] : unchecked((int)0xdeadbeef);
            Assert.Equal(expected, back[i]);
        }
    }

    [Fact]
    public void NvrtcKernelRunsAndGraphReplaysIt()
    {
        var ctx = device.Require();
        var compiler = new KernelCompiler(NvrtcApi.Load(), cacheDirectory: null);
        using var module = ctx.LoadModule(compiler.Compile(SaxpySource, "saxpy", ctx.Architecture, []));
        var saxpy = module.GetFunction("saxpy");
        using var stream = ctx.CreateStream();
        const int n = 10_000;
        using var x = ctx.Allocate(n * 4);
        using var y = ctx.Allocate(n * 4);
        var hx = Enumerable.Range(0, n).Select(i => (float)i).ToArray();
        var hy = Enumerable.Range(0, n).Select(i => 1f).ToArray();
        ctx.CopyToDevice(x.Pointer, (ReadOnlySpan<float>)hx, stream);
        ctx.CopyToDevice(y.Pointer, (ReadOnlySpan<float>)hy, stream);
        var args = new KernelArgs().Float(2f).Ptr(x).Ptr(y).Int(n);
        ctx.Launch(saxpy, ((n + 255) / 256, 1, 1), 256, 0, stream, ref args);

        // The same launch captured once and replayed twice: y = 1 + 3 * (2x).
        stream.BeginCapture();
        ctx.Launch(saxpy, ((n + 255) / 256, 1, 1), 256, 0, stream, ref args);
        using var graph = stream.EndCapture();
        graph.Launch(stream);
        graph.Launch(stream);
        var back = new float[n];
        ctx.CopyToHost<float>(back, y.Pointer, stream);
        stream.Synchronize();
        for (int i = 0; i < n; i += 97)
        {
            Assert.Equal(1f + (6f * i), back[i]);
        }
    }

    [Fact]
    public void EventsTimeWork()
    {
        var ctx = device.Require();
        using var stream = ctx.CreateStream();
        using var start = ctx.CreateEvent();
        using var end = ctx.CreateEvent();
        using var big = ctx.Allocate(256L << 20);
        start.Record(stream);
        for (int i = 0; i < 4; i++)
        {
            ctx.Memset(big.Pointer, (byte)i, big.Bytes, stream);
        }

        end.Record(stream);
        end.Synchronize();
        float ms = end.ElapsedSince(start);
        Assert.InRange(ms, 0.01f, 1000f);
    }

    [Fact]
    public void CompileErrorNamesTheCallAndCarriesTheLog()
    {
        var ctx = device.Require();
        var compiler = new KernelCompiler(NvrtcApi.Load(), cacheDirectory: null);
        var e = Assert.Throws<CudaException>(() => compiler.Compile("extern \"C\" __global__ void k() { undefined_thing(); }", "broken", ctx.Architecture, []));
        Assert.Equal("nvrtcCompileProgram", e.Call);
        Assert.Contains("undefined_thing", e.Message);
    }

    [Fact]
    public void FailedAllocationNamesTheCallAndTheError()
    {
        var ctx = device.Require();
        var e = Assert.Throws<CudaException>(() => ctx.Allocate(1L << 50));
        Assert.Equal("cuMemAlloc_v2", e.Call);
        Assert.Contains("CUDA_ERROR_OUT_OF_MEMORY", e.Message);
    }

    [Fact]
    public void KernelCacheServesTheSecondCompileFromDisk()
    {
        var ctx = device.Require();
        string dir = Path.Combine(device.KernelCache, "cache-test");
        var first = new KernelCompiler(NvrtcApi.Load(), dir);
        var a = first.Compile(SaxpySource, "saxpy", ctx.Architecture, ["-DVARIANT=1"]);
        Assert.False(first.LastWasCached);
        var second = new KernelCompiler(NvrtcApi.Load(), dir);
        var b = second.Compile(SaxpySource, "saxpy", ctx.Architecture, ["-DVARIANT=1"]);
        Assert.True(second.LastWasCached);
        Assert.Equal(a, b);
        second.Compile(SaxpySource, "saxpy", ctx.Architecture, ["-DVARIANT=2"]);
        Assert.False(second.LastWasCached);
    }

    [Theory]
    [InlineData(1, 64, 96)]
    [InlineData(7, 200, 136)]
    [InlineData(64, 512, 256)]
    public void CublasLtProductMatchesDoubleReference(int m, int n, int k)
    {
        var ctx = device.Require();
        using var stream = ctx.CreateStream();
        using var gemm = new GemmRunner(ctx, CublasLtApi.Load());
        var rng = new Random(m * 1000 + n);
        var w = RandomBf16(rng, n * k);
        var x = RandomBf16(rng, m * k);
        var y0 = Enumerable.Range(0, m * n).Select(_ => (float)rng.NextDouble()).ToArray();
        using var dw = ctx.Allocate(w.Length * 2L);
        using var dx = ctx.Allocate(x.Length * 2L);
        using var dy = ctx.Allocate(m * n * 4L);
        using var db = ctx.Allocate(m * n * 2L);
        ctx.CopyToDevice(dw.Pointer, (ReadOnlySpan<ushort>)w, stream);
        ctx.CopyToDevice(dx.Pointer, (ReadOnlySpan<ushort>)x, stream);
        ctx.CopyToDevice(dy.Pointer, (ReadOnlySpan<float>)y0, stream);
        gemm.Run(dw.Pointer, n, k, dx.Pointer, m, dy.Pointer, GemmOutput.Float32, accumulate: true, stream);
        gemm.Run(dw.Pointer, n, k, dx.Pointer, m, db.Pointer, GemmOutput.BFloat16, accumulate: false, stream);
        var y = new float[m * n];
        var yb = new ushort[m * n];
        ctx.CopyToHost<float>(y, dy.Pointer, stream);
        ctx.CopyToHost<ushort>(yb, db.Pointer, stream);
        stream.Synchronize();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double r = 0;
                for (int e = 0; e < k; e++)
                {
                    r += Bf(x[(i * k) + e]) * Bf(w[(j * k) + e]);
                }

                Assert.True(Math.Abs(y[(i * n) + j] - (y0[(i * n) + j] + r)) < 1e-3 * (1 + Math.Abs(r)), $"fp32 [{i},{j}]: {y[(i * n) + j]} vs {y0[(i * n) + j] + r}");
                Assert.True(Math.Abs(Bf(yb[(i * n) + j]) - r) < 8e-3 * (1 + Math.Abs(r)), $"bf16 [{i},{j}]: {Bf(yb[(i * n) + j])} vs {r}");
            }
        }
    }

    [Fact]
    public void NcclOneRankCommunicatorSendsToItselfAndAllReducesAsCopy()
    {
        var ctx = device.Require();
        var api = NcclApi.Load();
        Assert.True(api.Version() >= 20000);
        var id = NcclCommunicator.NewUniqueId(api);
        Assert.Equal(id.ToArray(), NcclUniqueId.FromBytes(id.ToArray()).ToArray());
        using var comm = NcclCommunicator.Create(ctx, api, id, rank: 0, ranks: 1);
        using var stream = ctx.CreateStream();
        const int n = 1 << 16;
        var data = Enumerable.Range(0, n).Select(i => (float)Math.Sin(i)).ToArray();
        using var a = ctx.Allocate(n * 4);
        using var b = ctx.Allocate(n * 4);
        using var c = ctx.Allocate(n * 4);
        ctx.CopyToDevice(a.Pointer, (ReadOnlySpan<float>)data, stream);
        comm.SendReceive(a.Pointer, n * 4, 0, b.Pointer, n * 4, 0, stream);
        comm.AllReduceSum(a.Pointer, c.Pointer, n, stream);
        var hb = new float[n];
        var hc = new float[n];
        ctx.CopyToHost<float>(hb, b.Pointer, stream);
        ctx.CopyToHost<float>(hc, c.Pointer, stream);
        stream.Synchronize();
        Assert.Equal(data, hb);
        Assert.Equal(data, hc);
    }

    [Fact]
    public void NcclNonBlockingOneRankCommunicatorJoinsSendsToItselfAndAborts()
    {
        var ctx = device.Require();
        var api = NcclApi.Load();
        var id = NcclCommunicator.NewUniqueId(api);
        var ct = TestContext.Current.CancellationToken;
        var comm = NcclCommunicator.CreateNonBlocking(ctx, api, id, rank: 0, ranks: 1, Environment.TickCount64 + 30_000, ct);
        Assert.True(comm.NonBlocking);
        Assert.Equal(0, comm.AsyncError());
        using var stream = ctx.CreateStream();
        const int n = 1 << 14;
        var data = Enumerable.Range(0, n).Select(i => (byte)(i * 7)).ToArray();
        using var a = ctx.Allocate(n);
        using var b = ctx.Allocate(n);
        ctx.CopyToDevice(a.Pointer, (ReadOnlySpan<byte>)data, stream);
        comm.Group([(a.Pointer, n)], [(b.Pointer, n)], peer: 0, stream, Environment.TickCount64 + 30_000, ct);
        comm.WaitStream(stream, "self send", Environment.TickCount64 + 30_000, ct);
        var back = new byte[n];
        ctx.CopyToHost<byte>(back, b.Pointer, stream);
        stream.Synchronize();
        Assert.Equal(data, back);

        // With one rank a receive must be paired with a send in the same group: NCCL refuses an unmatched one at
        // group end, and the refusal comes back as an exception naming the call (not a hang). The deadline path
        // (a peer that never sends) needs a second rank: NcclKvTransportTests on two GPUs.
        var e = Assert.Throws<CudaException>(() =>
            comm.Group([], [(b.Pointer, n)], peer: 0, stream, Environment.TickCount64 + 5_000, ct));
        Assert.Contains("ncclGroupEnd", e.Message);
        comm.Dispose(); // ncclCommAbort
        stream.Synchronize();
    }

    [Fact]
    public void KvBlockMoverGathersAndScattersLayersOfListedBlocks()
    {
        var ctx = device.Require();
        using var mover = new OrleansInference.Native.Cuda.KvBlockMover(ctx, new KernelCompiler(NvrtcApi.Load(), device.KernelCache));
        using var stream = ctx.CreateStream();
        const int blocks = 6, layers = 3;
        const long layerBytes = 64, blockBytes = layers * layerBytes;
        var pool = Enumerable.Range(0, (int)(blocks * blockBytes)).Select(i => (byte)(i % 251)).ToArray();
        using var dPool = ctx.Allocate(pool.Length);
        using var dOther = ctx.Allocate(pool.Length);
        using var staging = ctx.Allocate(2 * 2 * layerBytes);
        using var ids = ctx.Allocate(8);
        ctx.CopyToDevice(dPool.Pointer, (ReadOnlySpan<byte>)pool, stream);
        ctx.Memset(dOther.Pointer, 0, pool.Length, stream);
        ctx.CopyToDevice(ids.Pointer, (ReadOnlySpan<int>)[4, 1], stream);
        mover.Gather(dPool.Pointer, staging.Pointer, ids.Pointer, 2, firstLayer: 1, layers: 2, blockBytes, layerBytes, stream);
        var staged = new byte[4 * layerBytes];
        ctx.CopyToHost<byte>(staged, staging.Pointer, stream);
        mover.Scatter(dOther.Pointer, staging.Pointer, ids.Pointer, 2, firstLayer: 1, layers: 2, blockBytes, layerBytes, stream);
        var other = new byte[pool.Length];
        ctx.CopyToHost<byte>(other, dOther.Pointer, stream);
        stream.Synchronize();
        // Staging is [layer in round][listed block][slice]: (layer 1, block 4), (layer 1, block 1), (layer 2, block 4), (layer 2, block 1).
        int[][] order = [[1, 4], [1, 1], [2, 4], [2, 1]];
        for (int s = 0; s < 4; s++)
        {
            long at = (order[s][1] * blockBytes) + (order[s][0] * layerBytes);
            Assert.Equal(pool.AsSpan((int)at, (int)layerBytes).ToArray(), staged.AsSpan((int)(s * layerBytes), (int)layerBytes).ToArray());
        }

        for (int i = 0; i < pool.Length; i++)
        {
            int block = (int)(i / blockBytes), layer = (int)(i % blockBytes / layerBytes);
            bool moved = (block is 4 or 1) && layer >= 1;
            Assert.Equal(moved ? pool[i] : (byte)0, other[i]);
        }
    }

    [Fact]
    public void NcclRefusesAMalformedUniqueId()
    {
        var e = Assert.Throws<ArgumentException>(() => NcclUniqueId.FromBytes(new byte[12]));
        Assert.Contains("128", e.Message);
        Assert.Equal(128, Marshal.SizeOf<NcclUniqueId>());
    }

    internal static ushort[] RandomBf16(Random rng, int count)
    {
        var a = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            a[i] = (ushort)(BitConverter.SingleToUInt32Bits((float)((rng.NextDouble() * 2) - 1)) >> 16);
        }

        return a;
    }

    internal static double Bf(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
}
