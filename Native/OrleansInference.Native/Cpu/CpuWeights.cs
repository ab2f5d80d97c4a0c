using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// One decoder layer's weights in float32. q/k/v are stacked into one matrix (outputs q | k | v), gate/up into another
/// (gate | up), so each is one pass over the step's activations.
/// </summary>
internal sealed class CpuLayerWeights
{
    public required PinnedMatrix InputNorm { get; init; }

    public required PackedWeights Qkv { get; init; }

    public required PackedWeights O { get; init; }

    public required PinnedMatrix PostNorm { get; init; }

    public required PackedWeights GateUp { get; init; }

    public required PackedWeights Down { get; init; }
}

/// <summary>
/// All weights converted once to float32. The embedding stays row-major <c>[vocab, hidden]</c> for the gather;
/// projections are repacked into <see cref="PackedWeights"/> panels.
/// </summary>
internal sealed class CpuWeights
{
    private CpuWeights(PinnedMatrix embedding, CpuLayerWeights[] layers, PinnedMatrix finalNorm, PackedWeights lmHead)
    {
        Embedding = embedding;
        Layers = layers;
        FinalNorm = finalNorm;
        LmHead = lmHead;
    }

    public PinnedMatrix Embedding { get; }

    public IReadOnlyList<CpuLayerWeights> Layers { get; }

    public PinnedMatrix FinalNorm { get; }

    /// <summary>The output projection (packed from the embedding when tied).</summary>
    public PackedWeights LmHead { get; }

    public static CpuWeights Load(ModelConfig c, ITensorSource tensors)
    {
        ModelTensorLayout.Validate(c, tensors, "model");
        int h = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var embedding = new PinnedMatrix(c.VocabSize, h);
        tensors.TryGet(ModelTensorLayout.Embedding)!.CopyToFloat32(embedding.Span);
        var layers = new CpuLayerWeights[c.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string L(string s) => ModelTensorLayout.Layer(i, s);
            layers[i] = new CpuLayerWeights
            {
                InputNorm = Vector(tensors, L("input_layernorm.weight"), h),
                Qkv = Pack(
                    tensors,
                    [L("self_attn.q_proj.weight"), L("self_attn.k_proj.weight"), L("self_attn.v_proj.weight")],
                    c.AttentionBias ? [L("self_attn.q_proj.bias"), L("self_attn.k_proj.bias"), L("self_attn.v_proj.bias")] : [],
                    q + (2 * kv),
                    h),
                O = Pack(tensors, [L("self_attn.o_proj.weight")], c.AttentionOutputBias ? [L("self_attn.o_proj.bias")] : [], h, q),
                PostNorm = Vector(tensors, L("post_attention_layernorm.weight"), h),
                GateUp = Pack(tensors, [L("mlp.gate_proj.weight"), L("mlp.up_proj.weight")], [], 2 * inter, h),
                Down = Pack(tensors, [L("mlp.down_proj.weight")], [], h, inter),
            };
        }

        var finalNorm = Vector(tensors, ModelTensorLayout.FinalNorm, h);
        var lmHead = c.TieWordEmbeddings
            ? new PackedWeights(embedding.Span, c.VocabSize, h)
            : Pack(tensors, [ModelTensorLayout.LmHead], [], c.VocabSize, h);
        return new CpuWeights(embedding, layers, finalNorm, lmHead);
    }

    private static PinnedMatrix Vector(ITensorSource tensors, string name, int length)
    {
        var m = new PinnedMatrix(1, length);
        tensors.TryGet(name)!.CopyToFloat32(m.Span);
        return m;
    }

    /// <summary>Stacks the named tensors (already shape-checked) row-wise, then packs them.</summary>
    private static PackedWeights Pack(ITensorSource tensors, string[] weights, string[] biases, int rows, int cols)
    {
        var rowMajor = GC.AllocateUninitializedArray<float>(checked(rows * cols));
        Stack(tensors, weights, rowMajor);
        float[] bias = [];
        if (biases.Length > 0)
        {
            bias = new float[rows];
            Stack(tensors, biases, bias);
        }

        return new PackedWeights(rowMajor, rows, cols, bias);
    }

    private static void Stack(ITensorSource tensors, string[] names, Span<float> destination)
    {
        int offset = 0;
        foreach (string name in names)
        {
            var t = tensors.TryGet(name)!;
            int n = checked((int)t.ElementCount);
            t.CopyToFloat32(destination.Slice(offset, n));
            offset += n;
        }
    }
}
