using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// Float32 kernels of the CPU forward pass. Every output element of <see cref="MatMulRows"/> is computed by the same
/// sequence of operations whichever tile it falls in, so results do not depend on batch composition or thread count
/// (batch-invariant, bit for bit).
/// </summary>
internal static unsafe class CpuKernels
{
    private const int W = 8; // Vector256<float>.Count

    /// <summary>
    /// <c>y[t, j] = x[t, :] · w[j, :] (+ bias[j])</c> for output rows <c>j ∈ [j0, j1)</c> and all <paramref name="tokens"/>:
    /// Y = X·Wᵀ with W in HF's <c>[out, in]</c> layout. Tiles of 2 weight rows × 4 tokens reuse every load.
    /// </summary>
    public static void MatMulRows(float* x, int xStride, int tokens, float* w, int inDim, float* bias, float* y, int yStride, int j0, int j1)
    {
        if (!Vector256.IsHardwareAccelerated)
        {
            for (int r = j0; r < j1; r++)
            {
                var wRow = new ReadOnlySpan<float>(w + ((long)r * inDim), inDim);
                float b = bias == null ? 0f : bias[r];
                for (int t = 0; t < tokens; t++)
                {
                    y[((long)t * yStride) + r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + ((long)t * xStride), inDim), wRow) + b;
                }
            }

            return;
        }

        int vecEnd = inDim - (inDim % W);
        int j = j0;
        for (; j + 2 <= j1; j += 2)
        {
            float* w0 = w + ((long)j * inDim), w1 = w0 + inDim;
            int t = 0;
            for (; t + 4 <= tokens; t += 4)
            {
                float* x0 = x + ((long)t * xStride), x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
                Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default,
                                 a20 = default, a21 = default, a30 = default, a31 = default;
                for (int k = 0; k < vecEnd; k += W)
                {
                    var v0 = Vector256.Load(w0 + k);
                    var v1 = Vector256.Load(w1 + k);
                    var u = Vector256.Load(x0 + k);
                    a00 = Vector256.MultiplyAddEstimate(u, v0, a00);
                    a01 = Vector256.MultiplyAddEstimate(u, v1, a01);
                    u = Vector256.Load(x1 + k);
                    a10 = Vector256.MultiplyAddEstimate(u, v0, a10);
                    a11 = Vector256.MultiplyAddEstimate(u, v1, a11);
                    u = Vector256.Load(x2 + k);
                    a20 = Vector256.MultiplyAddEstimate(u, v0, a20);
                    a21 = Vector256.MultiplyAddEstimate(u, v1, a21);
                    u = Vector256.Load(x3 + k);
                    a30 = Vector256.MultiplyAddEstimate(u, v0, a30);
                    a31 = Vector256.MultiplyAddEstimate(u, v1, a31);
                }

                Store(y, yStride, t, j, a00, x0, w0, vecEnd, inDim, bias);
                Store(y, yStride, t, j + 1, a01, x0, w1, vecEnd, inDim, bias);
                Store(y, yStride, t + 1, j, a10, x1, w0, vecEnd, inDim, bias);
                Store(y, yStride, t + 1, j + 1, a11, x1, w1, vecEnd, inDim, bias);
                Store(y, yStride, t + 2, j, a20, x2, w0, vecEnd, inDim, bias);
                Store(y, yStride, t + 2, j + 1, a21, x2, w1, vecEnd, inDim, bias);
                Store(y, yStride, t + 3, j, a30, x3, w0, vecEnd, inDim, bias);
                Store(y, yStride, t + 3, j + 1, a31, x3, w1, vecEnd, inDim, bias);
            }

            for (; t < tokens; t++)
            {
                float* x0 = x + ((long)t * xStride);
                Vector256<float> a0 = default, a1 = default;
                for (int k = 0; k < vecEnd; k += W)
                {
                    var u = Vector256.Load(x0 + k);
                    a0 = Vector256.MultiplyAddEstimate(u, Vector256.Load(w0 + k), a0);
                    a1 = Vector256.MultiplyAddEstimate(u, Vector256.Load(w1 + k), a1);
                }

                Store(y, yStride, t, j, a0, x0, w0, vecEnd, inDim, bias);
                Store(y, yStride, t, j + 1, a1, x0, w1, vecEnd, inDim, bias);
            }
        }

        for (; j < j1; j++)
        {
            float* w0 = w + ((long)j * inDim);
            for (int t = 0; t < tokens; t++)
            {
                float* x0 = x + ((long)t * xStride);
                Vector256<float> a0 = default;
                for (int k = 0; k < vecEnd; k += W)
                {
                    a0 = Vector256.MultiplyAddEstimate(Vector256.Load(x0 + k), Vector256.Load(w0 + k), a0);
                }

                Store(y, yStride, t, j, a0, x0, w0, vecEnd, inDim, bias);
            }
        }
    }

    private static void Store(float* y, int yStride, int t, int j, Vector256<float> acc, float* xRow, float* wRow, int vecEnd, int inDim, float* bias)
    {
        float s = Vector256.Sum(acc);
        for (int k = vecEnd; k < inDim; k++)
        {
            s += xRow[k] * wRow[k];
        }

        if (bias != null)
        {
            s += bias[j];
        }

        y[((long)t * yStride) + j] = s;
    }

    /// <summary>HF RMSNorm in float32: <c>w · (x · rsqrt(mean(x²) + eps))</c>.</summary>
    public static void RmsNorm(float* x, float* weight, float* y, int n, float eps)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        var ys = new Span<float>(y, n);
        float meanSquare = TensorPrimitives.SumOfSquares(xs) / n;
        float r = 1f / MathF.Sqrt(meanSquare + eps);
        TensorPrimitives.Multiply(xs, r, ys);
        TensorPrimitives.Multiply(ys, new ReadOnlySpan<float>(weight, n), ys);
    }

    /// <summary>
    /// Rotates pairs <c>(i, i + D/2)</c> of each head in place: <c>(a, b) → (a·cos − b·sin, b·cos + a·sin)</c>.
    /// </summary>
    public static void Rope(float* v, int heads, int headDim, float* cos, float* sin)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
        {
            float* a = v + (h * headDim);
            float* b = a + half;
            for (int i = 0; i < half; i++)
            {
                float x1 = a[i], x2 = b[i];
                a[i] = (x1 * cos[i]) - (x2 * sin[i]);
                b[i] = (x2 * cos[i]) + (x1 * sin[i]);
            }
        }
    }

    /// <summary><c>out[i] = silu(gate[i]) · up[i]</c>, silu(g) = g · sigmoid(g).</summary>
    public static void SwiGlu(float* gate, float* up, float* output, int n)
    {
        var g = new ReadOnlySpan<float>(gate, n);
        var o = new Span<float>(output, n);
        TensorPrimitives.Sigmoid(g, o);
        TensorPrimitives.Multiply(o, g, o);
        TensorPrimitives.Multiply(o, new ReadOnlySpan<float>(up, n), o);
    }
}
