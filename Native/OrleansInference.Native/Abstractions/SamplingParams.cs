namespace OrleansInference.Native;

/// <summary>
/// How tokens are chosen from the model's distribution and when generation stops.
/// Defaults follow the OpenAI API (temperature 1, no truncation, 16 tokens).
/// </summary>
public sealed record SamplingParams
{
    /// <summary>Softmax temperature; 0 selects greedy decoding (argmax).</summary>
    public float Temperature { get; init; } = 1.0f;

    /// <summary>Keep only the k most likely tokens; 0 or negative disables.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus sampling: smallest set of tokens whose probability mass reaches p; 1 disables.</summary>
    public float TopP { get; init; } = 1.0f;

    /// <summary>Drop tokens whose probability is below <c>MinP × p(max)</c>; 0 disables.</summary>
    public float MinP { get; init; }

    /// <summary>Multiplicative penalty (as in CTRL / HF) on logits of tokens already in prompt or output; 1 disables.</summary>
    public float RepetitionPenalty { get; init; } = 1.0f;

    /// <summary>Additive penalty for tokens that already appear in the output (OpenAI semantics).</summary>
    public float PresencePenalty { get; init; }

    /// <summary>Additive penalty scaled by how often a token already appears in the output (OpenAI semantics).</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>
    /// Seed of the counter-based RNG. Each draw is keyed by (seed, sample index, absolute position), so a
    /// generation resumed from any token continues exactly as it would have. Null: the engine picks one and
    /// reports it in the first update.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>Maximum number of generated tokens (per sample).</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Generation stops when the text contains one of these; the stop string is not included in the output.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>Additional token ids that stop generation (besides the model's EOS ids unless <see cref="IgnoreEos"/>).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep generating after the model's EOS tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Null: no logprobs. Otherwise the chosen token's logprob plus this many top alternatives (0–20).</summary>
    public int? Logprobs { get; init; }

    /// <summary>Number of independent samples from the same prompt (the prompt's KV blocks are shared, copy-on-write).</summary>
    public int N { get; init; } = 1;

    /// <summary>Greedy when the temperature is zero.</summary>
    public bool IsGreedy => Temperature <= 0f;
}
