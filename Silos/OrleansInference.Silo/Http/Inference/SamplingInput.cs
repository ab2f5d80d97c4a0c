namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// Sampling fields as a client sent them (null = not given), with the names used to report errors, shared by the
/// OpenAI and KServe request mappers.
/// </summary>
internal sealed record SamplingInput
{
    public float? Temperature { get; init; }
    public float? TopP { get; init; }
    public int? TopK { get; init; }
    public float? MinP { get; init; }
    public float? PresencePenalty { get; init; }
    public float? FrequencyPenalty { get; init; }
    public float? RepetitionPenalty { get; init; }
    public int? MaxTokens { get; init; }
    public string MaxTokensName { get; init; } = "max_tokens";
    public int? N { get; init; }
    public long? Seed { get; init; }
    public IReadOnlyList<string>? Stop { get; init; }
    public IReadOnlyList<int>? StopTokenIds { get; init; }
    public bool? IgnoreEos { get; init; }
    public int? Logprobs { get; init; }
    public string LogprobsName { get; init; } = "logprobs";
    public string? Priority { get; init; }
}
