using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cpu;

public sealed unsafe class CpuKernelsTests
{
    [Theory]
    [InlineData(1, 16, 8, false)]
    [InlineData(5, 33, 13, true)]
    [InlineData(9, 97, 64, true)]
    [InlineData(70, 40, 24, false)] // crosses a 64-token block
    public void PackedMatMulEqualsNaiveProductForAnyShape(int tokens, int rows, int cols, bool withBias)
    {
        var rng = new SplitMix64((ulong)(tokens * 1000 + rows));
        float[] Random(int n) => Enumerable.Range(0, n).Select(_ => (float)rng.NextNormal()).ToArray();
        float[] w = Random(rows * cols), x = Random(tokens * cols), bias = withBias ? Random(rows) : [];
        var packed = new PackedWeights(w, rows, cols, bias);
        int yStride = rows + 3; // rows of Y are strided, as logits rows are
        var y = new float[tokens * yStride];
        Array.Fill(y, float.NaN);
        fixed (float* px = x, py = y)
        {
            // Two tiles of panels, as a parallel split would do.
            int half = packed.Panels / 2;
            CpuKernels.MatMul(px, cols, tokens, packed, py, yStride, 0, half);
            CpuKernels.MatMul(px, cols, tokens, packed, py, yStride, half, packed.Panels);
        }

        for (int t = 0; t < tokens; t++)
        {
            for (int j = 0; j < rows; j++)
            {
                double expected = withBias ? bias[j] : 0;
                for (int k = 0; k < cols; k++)
                {
                    expected += (double)x[(t * cols) + k] * w[(j * cols) + k];
                }

                Assert.Equal(expected, y[(t * yStride) + j], 1e-4);
            }

            for (int j = rows; j < yStride; j++)
            {
                Assert.True(float.IsNaN(y[(t * yStride) + j]), "wrote past the row");
            }
        }
    }

    [Fact]
    public void RmsNormRopeAndSwiGluFollowTheirDefinitions()
    {
        float[] x = [1, -2, 3, 4], w = [0.5f, 1, 2, 1], y = new float[4];
        fixed (float* px = x, pw = w, py = y)
        {
            CpuKernels.RmsNorm(px, pw, py, 4, 1e-6f);
        }

        double r = 1 / Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-6);
        Assert.Equal(new[] { 0.5 * r, -2 * r, 6 * r, 4 * r }, y.Select(v => (double)v), new ToleranceComparer(1e-6));

        // One head of width 4: pairs (0, 2) and (1, 3).
        float[] v = [1, 2, 3, 4], cos = [MathF.Cos(0.5f), MathF.Cos(0.1f)], sin = [MathF.Sin(0.5f), MathF.Sin(0.1f)];
        fixed (float* pv = v, pc = cos, ps = sin)
        {
            CpuKernels.Rope(pv, 1, 4, pc, ps);
        }

        Assert.Equal(1 * Math.Cos(0.5) - 3 * Math.Sin(0.5), v[0], 1e-6);
        Assert.Equal(3 * Math.Cos(0.5) + 1 * Math.Sin(0.5), v[2], 1e-6);
        Assert.Equal(2 * Math.Cos(0.1) - 4 * Math.Sin(0.1), v[1], 1e-6);
        Assert.Equal(4 * Math.Cos(0.1) + 2 * Math.Sin(0.1), v[3], 1e-6);

        float[] gate = [-1, 0, 2], up = [3, 5, -1], o = new float[3];
        fixed (float* pg = gate, pu = up, po = o)
        {
            CpuKernels.SwiGlu(pg, pu, po, 3);
        }

        Assert.Equal(-1 / (1 + Math.E) * 3, o[0], 1e-6);
        Assert.Equal(0, o[1]);
        Assert.Equal(2 / (1 + Math.Exp(-2)) * -1, o[2], 1e-6);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= tolerance;

        public int GetHashCode(double value) => 0;
    }
}
