namespace OrleansInference.Native.Models;

/// <summary>RoPE frequency scaling (transformers' <c>rope_scaling</c> / <c>rope_parameters</c>).</summary>
/// <param name="Type">"default", "linear" or "llama3".</param>
/// <param name="Factor">Scale factor.</param>
/// <param name="LowFreqFactor">llama3 only.</param>
/// <param name="HighFreqFactor">llama3 only.</param>
/// <param name="OriginalMaxPositionEmbeddings">llama3 only.</param>
public sealed record RopeScaling(string Type, double Factor = 1.0, double LowFreqFactor = 1.0, double HighFreqFactor = 4.0, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>The architecture facts of a Llama-family decoder, parsed from <c>config.json</c>.</summary>
public sealed record ModelConfig
{
    /// <summary><c>model_type</c>: llama, mistral or qwen2.</summary>
    public required string ModelType { get; init; }

    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Width of the MLP.</summary>
    public required int IntermediateSize { get; init; }

    /// <summary>Decoder layers.</summary>
    public required int NumLayers { get; init; }

    /// <summary>Query heads.</summary>
    public required int NumHeads { get; init; }

    /// <summary>Key/value heads (GQA); equals <see cref="NumHeads"/> for MHA.</summary>
    public required int NumKvHeads { get; init; }

    /// <summary>Per-head width (<c>head_dim</c>, else hidden / heads).</summary>
    public required int HeadDim { get; init; }

    /// <summary>Vocabulary size (rows of the embedding).</summary>
    public required int VocabSize { get; init; }

    /// <summary>RMSNorm epsilon.</summary>
    public double RmsNormEps { get; init; } = 1e-5;

    /// <summary>RoPE base.</summary>
    public double RopeTheta { get; init; } = 10000.0;

    /// <summary>RoPE scaling, if any.</summary>
    public RopeScaling? RopeScaling { get; init; }

    /// <summary>Maximum positions the model was trained for.</summary>
    public int MaxPositionEmbeddings { get; init; } = 2048;

    /// <summary>Whether <c>lm_head</c> reuses the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }

    /// <summary>q/k/v projections carry biases (Qwen2, or <c>attention_bias</c>).</summary>
    public bool AttentionBias { get; init; }

    /// <summary>
    /// <c>o_proj</c> carries a bias too (Llama with <c>attention_bias</c>; Qwen2 and Mistral never have one).
    /// </summary>
    public bool AttentionOutputBias { get; init; }

    /// <summary>BOS id from the config, if any.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>EOS ids from the config (one or many).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>Query heads per KV head.</summary>
    public int GroupSize => NumHeads / NumKvHeads;
}
