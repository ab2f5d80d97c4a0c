using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cuda;

/// <summary>One decoder layer's weights on the device (bf16 matrices <c>[out, in]</c>, fp32 norms and biases).</summary>
internal sealed record CudaLayerWeights(
    DeviceBuffer InputNorm,
    DeviceBuffer Qkv,
    DeviceBuffer? QkvBias,
    DeviceBuffer O,
    DeviceBuffer PostNorm,
    DeviceBuffer GateUp,
    DeviceBuffer Down);

/// <summary>
/// The model's weights converted once to bf16 on the device. q/k/v are stacked into one <c>[q+2kv, hidden]</c> matrix
/// and gate/up into one <c>[2·inter, hidden]</c> matrix so each is a single product; norms and biases stay fp32.
/// </summary>
internal sealed class CudaModelWeights : IDisposable
{
    private readonly List<DeviceBuffer> _all = [];

    public CudaModelWeights(CudaContext context, CudaStream stream, ModelConfig config, ITensorSource tensors)
    {
        try
        {
            Embedding = UploadBf16(context, stream, tensors, [ModelTensorLayout.Embedding]);
            FinalNorm = UploadF32(context, stream, tensors, ModelTensorLayout.FinalNorm);
            LmHead = config.TieWordEmbeddings ? Embedding : UploadBf16(context, stream, tensors, [ModelTensorLayout.LmHead]);
            var layers = new CudaLayerWeights[config.NumLayers];
            for (int i = 0; i < config.NumLayers; i++)
            {
                string L(string s) => ModelTensorLayout.Layer(i, s);
                layers[i] = new CudaLayerWeights(
                    UploadF32(context, stream, tensors, L("input_layernorm.weight")),
                    UploadBf16(context, stream, tensors, [L("self_attn.q_proj.weight"), L("self_attn.k_proj.weight"), L("self_attn.v_proj.weight")]),
                    config.AttentionBias ? UploadF32(context, stream, tensors, L("self_attn.q_proj.bias"), L("self_attn.k_proj.bias"), L("self_attn.v_proj.bias")) : null,
                    UploadBf16(context, stream, tensors, [L("self_attn.o_proj.weight")]),
                    UploadF32(context, stream, tensors, L("post_attention_layernorm.weight")),
                    UploadBf16(context, stream, tensors, [L("mlp.gate_proj.weight"), L("mlp.up_proj.weight")]),
                    UploadBf16(context, stream, tensors, [L("mlp.down_proj.weight")]));
            }

            Layers = layers;
            stream.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DeviceBuffer Embedding { get; } = null!;

    public DeviceBuffer FinalNorm { get; } = null!;

    public DeviceBuffer LmHead { get; } = null!;

    public IReadOnlyList<CudaLayerWeights> Layers { get; } = [];

    /// <summary>Bytes of weights on the device.</summary>
    public long Bytes => _all.Sum(b => b.Bytes);

    public void Dispose()
    {
        foreach (var b in _all)
        {
            b.Dispose();
        }

        _all.Clear();
    }

    private static ITensor Get(ITensorSource tensors, string name) =>
        tensors.TryGet(name) ?? throw new ModelLoadException($"missing tensor '{name}'.");

    /// <summary>Rows of the named tensors stacked, converted to bf16 (round to nearest even), uploaded.</summary>
    private DeviceBuffer UploadBf16(CudaContext context, CudaStream stream, ITensorSource tensors, string[] names)
    {
        var parts = names.Select(n => Get(tensors, n)).ToArray();
        long total = parts.Sum(p => p.ElementCount);
        var buffer = Track(context.Allocate(total * 2));
        long offset = 0;
        foreach (var part in parts)
        {
            var host = GC.AllocateUninitializedArray<ushort>(checked((int)part.ElementCount));
            part.CopyToBFloat16(host);
            context.CopyToDevice(buffer.Pointer + (ulong)(offset * 2), (ReadOnlySpan<ushort>)host, stream);
            stream.Synchronize();
            offset += part.ElementCount;
        }

        return buffer;
    }

    private DeviceBuffer UploadF32(CudaContext context, CudaStream stream, ITensorSource tensors, params string[] names)
    {
        var parts = names.Select(n => Get(tensors, n)).ToArray();
        var host = new float[parts.Sum(p => p.ElementCount)];
        long offset = 0;
        foreach (var part in parts)
        {
            part.CopyToFloat32(host.AsSpan((int)offset, (int)part.ElementCount));
            offset += part.ElementCount;
        }

        var buffer = Track(context.Allocate(host.Length * 4L));
        context.CopyToDevice(buffer.Pointer, (ReadOnlySpan<float>)host, stream);
        stream.Synchronize();
        return buffer;
    }

    private DeviceBuffer Track(DeviceBuffer buffer)
    {
        _all.Add(buffer);
        return buffer;
    }
}
