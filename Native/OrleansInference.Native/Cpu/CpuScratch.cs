using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// Activation buffers for one step of up to <see cref="Capacity"/> tokens, allocated once (pinned) and reused, so a
/// forward pass allocates nothing per token.
/// </summary>
internal sealed unsafe class CpuScratch
{
    private readonly List<float[]> _keepAlive = [];

    public CpuScratch(int capacity, int hidden, int qDim, int kvDim, int intermediate, int headDim)
    {
        Capacity = capacity;
        QkvStride = qDim + (2 * kvDim);
        X = Alloc(capacity * hidden);
        Xn = Alloc(capacity * hidden);
        Qkv = Alloc(capacity * QkvStride);
        Attn = Alloc(capacity * qDim);
        Proj = Alloc(capacity * hidden);
        GateUp = Alloc(capacity * 2 * intermediate);
        Act = Alloc(capacity * intermediate);
        Cos = Alloc(capacity * (headDim / 2));
        Sin = Alloc(capacity * (headDim / 2));
        Positions = new int[capacity];
        ChunkOf = new int[capacity];
        LogitRows = new int[capacity];
    }

    public int Capacity { get; }

    public int QkvStride { get; }

    /// <summary>Residual stream <c>[T, hidden]</c>.</summary>
    public float* X { get; }

    /// <summary>Normalised activations <c>[T, hidden]</c>.</summary>
    public float* Xn { get; }

    /// <summary>Stacked projections <c>[T, q | k | v]</c>.</summary>
    public float* Qkv { get; }

    /// <summary>Attention output <c>[T, heads·headDim]</c>.</summary>
    public float* Attn { get; }

    /// <summary>o_proj / down_proj output <c>[T, hidden]</c>.</summary>
    public float* Proj { get; }

    /// <summary><c>[T, gate | up]</c>.</summary>
    public float* GateUp { get; }

    /// <summary><c>[T, intermediate]</c>.</summary>
    public float* Act { get; }

    /// <summary>Per-token RoPE tables <c>[T, headDim/2]</c>.</summary>
    public float* Cos { get; }

    public float* Sin { get; }

    public int[] Positions { get; }

    public int[] ChunkOf { get; }

    /// <summary>Token indices whose logits are wanted, in output order.</summary>
    public int[] LogitRows { get; }

    private float* Alloc(int count)
    {
        var a = GC.AllocateArray<float>(Math.Max(count, 1), pinned: true);
        _keepAlive.Add(a);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(a));
    }
}
