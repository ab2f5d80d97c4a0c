using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// Device buffers of a step's intermediate values, sized for <see cref="TokenCapacity"/> tokens: the fp32 residual
/// stream, bf16 normalized input, fused QKV, rotated queries, attention output, gate/up, activation, the split-K
/// attention partials, and the logits (fp32) and argmax keys (64-bit: value, index) of up to <see cref="HeadRows"/> rows at a time.
/// </summary>
internal sealed class CudaActivations : IDisposable
{
    private readonly List<DeviceBuffer> _all = [];

    public CudaActivations(CudaContext context, ModelConfig c, int tokenCapacity, int sequenceCapacity, int maxSplits, int headRows)
    {
        TokenCapacity = tokenCapacity;
        HeadRows = headRows;
        long t = tokenCapacity;
        int qDim = c.NumHeads * c.HeadDim, kvDim = c.NumKvHeads * c.HeadDim;
        try
        {
            X = Add(context, t * c.HiddenSize * 4);
            Xn = Add(context, t * c.HiddenSize * 2);
            Qkv = Add(context, t * (qDim + (2 * kvDim)) * 2);
            Q = Add(context, t * qDim * 2);
            Attn = Add(context, t * qDim * 2);
            GateUp = Add(context, t * 2 * c.IntermediateSize * 2);
            Act = Add(context, t * c.IntermediateSize * 2);
            PartialO = Add(context, (long)maxSplits * sequenceCapacity * qDim * 4);
            PartialMl = Add(context, (long)maxSplits * sequenceCapacity * c.NumHeads * 2 * 4);
            Logits = Add(context, (long)headRows * c.VocabSize * 4);
            Ids = Add(context, headRows * 8L);
            DecodeCounters = Add(context, (long)sequenceCapacity * c.NumKvHeads * 4);
            NormCounter = Add(context, 4);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int TokenCapacity { get; }

    public int HeadRows { get; }

    public DeviceBuffer X { get; } = null!;

    public DeviceBuffer Xn { get; } = null!;

    public DeviceBuffer Qkv { get; } = null!;

    public DeviceBuffer Q { get; } = null!;

    public DeviceBuffer Attn { get; } = null!;

    public DeviceBuffer GateUp { get; } = null!;

    public DeviceBuffer Act { get; } = null!;

    public DeviceBuffer PartialO { get; } = null!;

    public DeviceBuffer PartialMl { get; } = null!;

    public DeviceBuffer Logits { get; } = null!;

    public DeviceBuffer Ids { get; } = null!;

    /// <summary>Split-completion counters of the decode attention (one per sequence and KV head); must start at zero.</summary>
    public DeviceBuffer DecodeCounters { get; } = null!;

    /// <summary>Finished-block counter of the fused residual product + RMSNorm (GemvFused.cu); must start at zero.</summary>
    public DeviceBuffer NormCounter { get; } = null!;

    public void Dispose()
    {
        foreach (var b in _all)
        {
            b.Dispose();
        }

        _all.Clear();
    }

    private DeviceBuffer Add(CudaContext context, long bytes)
    {
        var b = context.Allocate(Math.Max(bytes, 256));
        _all.Add(b);
        return b;
    }
}
