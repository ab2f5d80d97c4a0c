namespace OrleansInference.Native.Models;

/// <summary>A tensor a model must have, with its shape.</summary>
/// <param name="Name">Hugging Face name.</param>
/// <param name="Shape">Expected shape (weights are <c>[out, in]</c>).</param>
public sealed record ExpectedTensor(string Name, long[] Shape);

/// <summary>The Hugging Face tensor names and shapes of a Llama-family decoder.</summary>
public static class ModelTensorLayout
{
    /// <summary><c>model.embed_tokens.weight</c>.</summary>
    public const string Embedding = "model.embed_tokens.weight";

    /// <summary><c>model.norm.weight</c>.</summary>
    public const string FinalNorm = "model.norm.weight";

    /// <summary><c>lm_head.weight</c> (absent when embeddings are tied).</summary>
    public const string LmHead = "lm_head.weight";

    /// <summary>A per-layer name, e.g. <c>Layer(3, "self_attn.q_proj.weight")</c>.</summary>
    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    /// <summary>Every tensor the forward pass reads, with shapes derived from <paramref name="c"/>.</summary>
    public static IReadOnlyList<ExpectedTensor> Expected(ModelConfig c)
    {
        long h = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim, inter = c.IntermediateSize;
        var list = new List<ExpectedTensor> { new(Embedding, [c.VocabSize, h]) };
        for (int i = 0; i < c.NumLayers; i++)
        {
            list.Add(new(Layer(i, "input_layernorm.weight"), [h]));
            list.Add(new(Layer(i, "self_attn.q_proj.weight"), [q, h]));
            list.Add(new(Layer(i, "self_attn.k_proj.weight"), [kv, h]));
            list.Add(new(Layer(i, "self_attn.v_proj.weight"), [kv, h]));
            if (c.AttentionBias)
            {
                list.Add(new(Layer(i, "self_attn.q_proj.bias"), [q]));
                list.Add(new(Layer(i, "self_attn.k_proj.bias"), [kv]));
                list.Add(new(Layer(i, "self_attn.v_proj.bias"), [kv]));
            }

            list.Add(new(Layer(i, "self_attn.o_proj.weight"), [h, q]));
            if (c.AttentionOutputBias)
            {
                list.Add(new(Layer(i, "self_attn.o_proj.bias"), [h]));
            }

            list.Add(new(Layer(i, "post_attention_layernorm.weight"), [h]));
            list.Add(new(Layer(i, "mlp.gate_proj.weight"), [inter, h]));
            list.Add(new(Layer(i, "mlp.up_proj.weight"), [inter, h]));
            list.Add(new(Layer(i, "mlp.down_proj.weight"), [h, inter]));
        }

        list.Add(new(FinalNorm, [h]));
        if (!c.TieWordEmbeddings)
        {
            list.Add(new(LmHead, [c.VocabSize, h]));
        }

        return list;
    }

    /// <summary>
    /// Checks that every expected tensor is present with the expected shape; the error names the file, the tensor and
    /// both shapes. <paramref name="origin"/> names the source when a tensor is missing altogether.
    /// </summary>
    public static void Validate(ModelConfig config, ITensorSource tensors, string origin)
    {
        foreach (var e in Expected(config))
        {
            var t = tensors.TryGet(e.Name)
                ?? throw new ModelLoadException($"{origin}: missing tensor '{e.Name}' (expected shape [{string.Join(", ", e.Shape)}]).");
            if (!t.Shape.SequenceEqual(e.Shape))
            {
                throw new ModelLoadException(
                    $"{t.Origin}: tensor '{e.Name}' has shape [{string.Join(", ", t.Shape)}], expected [{string.Join(", ", e.Shape)}].");
            }
        }
    }

    /// <summary>The tensor, converted to a new float32 array (weights keep HF's <c>[out, in]</c> row-major layout).</summary>
    public static float[] ReadFloat32(ITensorSource tensors, string name)
    {
        var t = tensors.TryGet(name) ?? throw new ModelLoadException($"missing tensor '{name}'.");
        var data = GC.AllocateUninitializedArray<float>(checked((int)t.ElementCount));
        t.CopyToFloat32(data);
        return data;
    }
}
