using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cpu;

/// <summary>One decoder layer's weights in float32. q/k/v are stacked into one matrix, gate/up into another.</summary>
internal sealed class CpuLayerWeights
{
    public required PinnedMatrix InputNorm { get; init; }

    /// <summary><c>[qDim + 2·kvDim, hidden]</c>: rows of q_proj, then k_proj, then v_proj.</summary>
    public required PinnedMatrix Qkv { get; init; }

    /// <summary><c>[1, qDim + 2·kvDim]</c> or null.</summary>
    public PinnedMatrix? QkvBias { get; init; }

    public required PinnedMatrix O { get; init; }

    public PinnedMatrix? OBias { get; init; }

    public required PinnedMatrix PostNorm { get; init; }

    /// <summary><c>[2·intermediate, hidden]</c>: rows of gate_proj, then up_proj.</summary>
    public required PinnedMatrix GateUp { get; init; }

    public required PinnedMatrix Down { get; init; }
}

/// <summary>All weights converted once to float32, in HF's <c>[out, in]</c> row-major layout.</summary>
internal sealed class CpuWeights
{
    private CpuWeights(PinnedMatrix embedding, CpuLayerWeights[] layers, PinnedMatrix finalNorm, PinnedMatrix lmHead)
    {
        Embedding = embedding;
        Layers = layers;
        FinalNorm = finalNorm;
        LmHead = lmHead;
    }

    public PinnedMatrix Embedding { get; }

    public IReadOnlyList<CpuLayerWeights> Layers { get; }

    public PinnedMatrix FinalNorm { get; }

    /// <summary>The output projection; the embedding itself when tied.</summary>
    public PinnedMatrix LmHead { get; }

    public static CpuWeights Load(ModelConfig c, ITensorSource tensors)
    {
        ModelTensorLayout.Validate(c, tensors, "model");
        int h = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var embedding = Read(tensors, [ModelTensorLayout.Embedding], c.VocabSize, h);
        var layers = new CpuLayerWeights[c.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string L(string s) => ModelTensorLayout.Layer(i, s);
            layers[i] = new CpuLayerWeights
            {
                InputNorm = Read(tensors, [L("input_layernorm.weight")], 1, h),
                Qkv = Read(tensors, [L("self_attn.q_proj.weight"), L("self_attn.k_proj.weight"), L("self_attn.v_proj.weight")], q + 2 * kv, h),
                QkvBias = c.AttentionBias
                    ? Read(tensors, [L("self_attn.q_proj.bias"), L("self_attn.k_proj.bias"), L("self_attn.v_proj.bias")], 1, q + 2 * kv)
                    : null,
                O = Read(tensors, [L("self_attn.o_proj.weight")], h, q),
                OBias = c.AttentionOutputBias ? Read(tensors, [L("self_attn.o_proj.bias")], 1, h) : null,
                PostNorm = Read(tensors, [L("post_attention_layernorm.weight")], 1, h),
                GateUp = Read(tensors, [L("mlp.gate_proj.weight"), L("mlp.up_proj.weight")], 2 * inter, h),
                Down = Read(tensors, [L("mlp.down_proj.weight")], h, inter),
            };
        }

        var finalNorm = Read(tensors, [ModelTensorLayout.FinalNorm], 1, h);
        var lmHead = c.TieWordEmbeddings ? embedding : Read(tensors, [ModelTensorLayout.LmHead], c.VocabSize, h);
        return new CpuWeights(embedding, layers, finalNorm, lmHead);
    }

    /// <summary>Stacks the named tensors (already shape-checked) into one matrix.</summary>
    private static PinnedMatrix Read(ITensorSource tensors, string[] names, int rows, int cols)
    {
        var m = new PinnedMatrix(rows, cols);
        int offset = 0;
        foreach (string name in names)
        {
            var t = tensors.TryGet(name)!;
            int n = checked((int)t.ElementCount);
            t.CopyToFloat32(m.Span.Slice(offset, n));
            offset += n;
        }

        return m;
    }
}
