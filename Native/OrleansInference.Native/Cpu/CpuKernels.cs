using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// Float32 kernels of the CPU forward pass. Every output element of <see cref="MatMul"/> is computed by the same
/// sequence of operations whichever tile it falls in, so results do not depend on batch composition or thread count
/// (batch-invariant, bit for bit). Kernels are compiled fully optimised at once (AggressiveOptimization): they run
/// hot from the first step, before tiered compilation would get to them.
/// </summary>
internal static unsafe class CpuKernels
{
    // Tokens per pass over the weights: their activations stay in L2 while every panel of the tile streams by.
    private const int TokenBlock = 64;

    /// <summary>
    /// <c>y[t, j] = x[t, :] · W[j, :] (+ bias[j])</c> for the outputs of panels <c>[p0, p1)</c> and all
    /// <paramref name="tokens"/>: Y = X·Wᵀ. Each output is accumulated in one vector lane over k = 0, 1, … in order
    /// with fused multiply-adds, whatever tile it is in, so results are independent of batch composition.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MatMul(float* x, int xStride, int tokens, PackedWeights w, float* y, int yStride, int p0, int p1)
    {
        const int P = PackedWeights.PanelWidth;
        int cols = w.Cols;
        float* tail = stackalloc float[4 * P];
        for (int tb = 0; tb < tokens; tb += TokenBlock)
        {
            int tEnd = Math.Min(tokens, tb + TokenBlock);
            for (int p = p0; p < p1; p++)
            {
                float* panel = w.Pointer + ((long)p * cols * P);
                int j = p * P;
                int valid = Math.Min(P, w.Rows - j);
                float* bias = w.Bias == null ? null : w.Bias + j;
                if (!Vector256.IsHardwareAccelerated)
                {
                    for (int r = tb; r < tEnd; r++)
                    {
                        float* xr = x + ((long)r * xStride);
                        for (int lane = 0; lane < valid; lane++)
                        {
                            float acc = 0f;
                            for (int k = 0; k < cols; k++)
                            {
                                acc = MathF.FusedMultiplyAdd(xr[k], panel[(k * P) + lane], acc);
                            }

                            y[((long)r * yStride) + j + lane] = bias == null ? acc : acc + bias[lane];
                        }
                    }

                    continue;
                }

                // A full panel is written straight into Y; the padded last panel goes through a buffer.
                bool direct = valid == P;
                int t = tb;
                for (; t + 4 <= tEnd; t += 4)
                {
                    float* y0 = y + ((long)t * yStride) + j;
                    if (direct)
                    {
                        Tile4(x + ((long)t * xStride), xStride, panel, cols, y0, y0 + yStride, y0 + (2L * yStride), y0 + (3L * yStride));
                    }
                    else
                    {
                        Tile4(x + ((long)t * xStride), xStride, panel, cols, tail, tail + P, tail + (2 * P), tail + (3 * P));
                    }

                    for (int i = 0; i < 4; i++)
                    {
                        Finish(direct ? y0 + (i * (long)yStride) : tail + (i * P), y0 + (i * (long)yStride), bias, valid);
                    }
                }

                for (; t < tEnd; t++)
                {
                    float* y0 = y + ((long)t * yStride) + j;
                    Tile1(x + ((long)t * xStride), panel, cols, direct ? y0 : tail);
                    Finish(direct ? y0 : tail, y0, bias, valid);
                }
            }
        }
    }

    // The micro-kernels are small call-free methods so the JIT keeps every accumulator in a register.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile4(float* x0, int xStride, float* panel, int cols, float* d0, float* d1, float* d2, float* d3)
    {
        float* x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        var a00 = Vector256<float>.Zero;
        var a01 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero;
        var a11 = Vector256<float>.Zero;
        var a20 = Vector256<float>.Zero;
        var a21 = Vector256<float>.Zero;
        var a30 = Vector256<float>.Zero;
        var a31 = Vector256<float>.Zero;
        float* wk = panel;
        for (int k = 0; k < cols; k++)
        {
            var w0 = Vector256.Load(wk);
            var w1 = Vector256.Load(wk + 8);
            wk += PackedWeights.PanelWidth;
            var b = Vector256.Create(x0[k]);
            a00 = Vector256.MultiplyAddEstimate(b, w0, a00);
            a01 = Vector256.MultiplyAddEstimate(b, w1, a01);
            b = Vector256.Create(x1[k]);
            a10 = Vector256.MultiplyAddEstimate(b, w0, a10);
            a11 = Vector256.MultiplyAddEstimate(b, w1, a11);
            b = Vector256.Create(x2[k]);
            a20 = Vector256.MultiplyAddEstimate(b, w0, a20);
            a21 = Vector256.MultiplyAddEstimate(b, w1, a21);
            b = Vector256.Create(x3[k]);
            a30 = Vector256.MultiplyAddEstimate(b, w0, a30);
            a31 = Vector256.MultiplyAddEstimate(b, w1, a31);
        }

        a00.Store(d0);
        a01.Store(d0 + 8);
        a10.Store(d1);
        a11.Store(d1 + 8);
        a20.Store(d2);
        a21.Store(d2 + 8);
        a30.Store(d3);
        a31.Store(d3 + 8);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Tile1(float* x0, float* panel, int cols, float* d0)
    {
        var a0 = Vector256<float>.Zero;
        var a1 = Vector256<float>.Zero;
        float* wk = panel;
        for (int k = 0; k < cols; k++)
        {
            var b = Vector256.Create(x0[k]);
            a0 = Vector256.MultiplyAddEstimate(b, Vector256.Load(wk), a0);
            a1 = Vector256.MultiplyAddEstimate(b, Vector256.Load(wk + 8), a1);
            wk += PackedWeights.PanelWidth;
        }

        a0.Store(d0);
        a1.Store(d0 + 8);
    }

    /// <summary>Adds the bias and, for a padded panel, copies the valid lanes from the buffer into Y.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(float* result, float* y, float* bias, int valid)
    {
        if (bias != null)
        {
            (Vector256.Load(result) + Vector256.Load(bias)).Store(result);
            (Vector256.Load(result + 8) + Vector256.Load(bias + 8)).Store(result + 8);
        }

        if (result != y)
        {
            for (int i = 0; i < valid; i++)
            {
                y[i] = result[i];
            }
        }
    }

    /// <summary>Dot product of two short vectors (a head's width); inlined, no span overhead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* a, float* b, int n)
    {
        int k = 0;
        float s = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; k + 8 <= n; k += 8)
            {
                acc = Vector256.MultiplyAddEstimate(Vector256.Load(a + k), Vector256.Load(b + k), acc);
            }

            s = Vector256.Sum(acc);
        }

        for (; k < n; k++)
        {
            s += a[k] * b[k];
        }

        return s;
    }

    /// <summary><c>y += alpha · x</c> over a head's width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static void Axpy(float alpha, float* x, float* y, int n)
    {
        int k = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var a = Vector256.Create(alpha);
            for (; k + 8 <= n; k += 8)
            {
                Vector256.MultiplyAddEstimate(a, Vector256.Load(x + k), Vector256.Load(y + k)).Store(y + k);
            }
        }

        for (; k < n; k++)
        {
            y[k] += alpha * x[k];
        }
    }

    /// <summary>HF RMSNorm in float32: <c>w · (x · rsqrt(mean(x²) + eps))</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SwiGlu(float* gate, float* up, float* output, int n)
    {
        var g = new ReadOnlySpan<float>(gate, n);
        var o = new Span<float>(output, n);
        TensorPrimitives.Sigmoid(g, o);
        TensorPrimitives.Multiply(o, g, o);
        TensorPrimitives.Multiply(o, new ReadOnlySpan<float>(up, n), o);
    }
}
