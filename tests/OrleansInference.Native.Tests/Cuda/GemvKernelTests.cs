using OrleansInference.Native.Cuda;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>The decode matrix-vector kernel in its three output modes against a double-precision product.</summary>
[Collection(CudaCollection.Name)]
public sealed class GemvKernelTests(CudaTestDevice device)
{
    [Theory]
    [InlineData(1, 2048, 64, 0, 1)]
    [InlineData(3, 300, 264, 1, 2)]
    [InlineData(8, 1000, 2048, 2, 1)]
    [InlineData(8, 1000, 2048, 2, 8)]
    [InlineData(5, 17, 8, 0, 4)]
    [InlineData(2, 37, 8200, 1, 8)]
    public void MatchesDoubleReference(int m, int n, int k, int mode, int splits)
    {
        var ctx = device.Require();
        var config = new ModelConfig { ModelType = "llama", HiddenSize = 64, IntermediateSize = 64, NumLayers = 1, NumHeads = 4, NumKvHeads = 2, HeadDim = 16, VocabSize = 8 };
        using var kernels = new CudaKernelSet(ctx, new KernelCompiler(NvrtcApi.Load(), device.KernelCache), config, 16);
        using var stream = ctx.CreateStream();
        var rng = new Random(m * 7 + n);
        var w = CudaInteropTests.RandomBf16(rng, n * k);
        var x = CudaInteropTests.RandomBf16(rng, m * k);
        var y0 = Enumerable.Range(0, m * n).Select(_ => (float)rng.NextDouble()).ToArray();
        using var dw = ctx.Allocate(w.Length * 2L);
        using var dx = ctx.Allocate(x.Length * 2L);
        using var dy = ctx.Allocate(m * n * 4L);
        ctx.CopyToDevice(dw.Pointer, (ReadOnlySpan<ushort>)w, stream);
        ctx.CopyToDevice(dx.Pointer, (ReadOnlySpan<ushort>)x, stream);
        ctx.CopyToDevice(dy.Pointer, (ReadOnlySpan<float>)y0, stream);
        var args = new KernelArgs().Ptr(dw).Ptr(dx).Int(m).Int(n).Int(k).Ptr(dy).Int(mode).Int(splits);
        int columnsPerBlock = 8 / splits;
        ctx.Launch(kernels.Gemv, ((uint)((n + columnsPerBlock - 1) / columnsPerBlock), 1, 1), 256, 0, stream, ref args);
        var yf = new float[m * n];
        var yb = new ushort[m * n];
        if (mode == 0)
        {
            ctx.CopyToHost<ushort>(yb, dy.Pointer, stream);
        }
        else
        {
            ctx.CopyToHost<float>(yf, dy.Pointer, stream);
        }

        stream.Synchronize();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double r = 0;
                for (int e = 0; e < k; e++)
                {
                    r += CudaInteropTests.Bf(x[(i * k) + e]) * CudaInteropTests.Bf(w[(j * k) + e]);
                }

                double got = mode == 0 ? CudaInteropTests.Bf(yb[(i * n) + j]) : yf[(i * n) + j];
                double want = mode == 2 ? y0[(i * n) + j] + r : r;
                double tol = mode == 0 ? 8e-3 * (1 + Math.Abs(want)) : 1e-4 * (1 + Math.Abs(want));
                Assert.True(Math.Abs(got - want) <= tol, $"mode {mode}, {splits} warps per column [{i},{j}]: {got} vs {want}");
            }
        }
    }
}
