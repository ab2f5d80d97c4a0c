namespace OrleansInference.Grains;

/// <summary>Why a sample ended (OpenAI's finish_reason plus failure states).</summary>
[GenerateSerializer]
public enum InferenceFinishReason
{
    /// <summary>EOS, stop token or stop string.</summary>
    Stop,
    /// <summary>Max tokens or context length.</summary>
    Length,
    /// <summary>Cancelled by the caller.</summary>
    Cancelled,
    /// <summary>Failed; see <see cref="TokenChunk.Error"/>.</summary>
    Error,
}

/// <summary>A token and its log-probability.</summary>
[GenerateSerializer, Immutable]
public readonly record struct TokenLogprobDto([property: Id(0)] int TokenId, [property: Id(1)] float Logprob, [property: Id(2)] string Text);

/// <summary>Log-probabilities at one output position.</summary>
[GenerateSerializer, Immutable]
public sealed record PositionLogprobsDto([property: Id(0)] TokenLogprobDto Chosen, [property: Id(1)] IReadOnlyList<TokenLogprobDto> Top);

/// <summary>
/// Output streamed by a request grain. <see cref="Offset"/> is the index of the first token of this chunk within its
/// sample, so a resuming client can drop what it already has: each token is seen once, in order.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record TokenChunk
{
    /// <summary>The request id.</summary>
    [Id(0)] public required string RequestId { get; init; }
    /// <summary>Sample index (0..n-1).</summary>
    [Id(1)] public int Index { get; init; }
    /// <summary>Position of the first token of this chunk within the sample's output.</summary>
    [Id(2)] public int Offset { get; init; }
    /// <summary>New tokens.</summary>
    [Id(3)] public IReadOnlyList<int> TokenIds { get; init; } = [];
    /// <summary>New text.</summary>
    [Id(4)] public string Text { get; init; } = "";
    /// <summary>Logprobs aligned with <see cref="TokenIds"/>.</summary>
    [Id(5)] public IReadOnlyList<PositionLogprobsDto>? Logprobs { get; init; }
    /// <summary>Set on the sample's last chunk.</summary>
    [Id(6)] public InferenceFinishReason? FinishReason { get; init; }
    /// <summary>Error text when failed.</summary>
    [Id(7)] public string? Error { get; init; }
    /// <summary>Usage, set on the very last chunk of the request.</summary>
    [Id(8)] public UsageInfo? Usage { get; init; }
    /// <summary>Which worker produced it (diagnostics; changes after a migration).</summary>
    [Id(9)] public string? WorkerId { get; init; }
}

/// <summary>Token accounting of a finished request.</summary>
[GenerateSerializer, Immutable]
public sealed record UsageInfo(
    [property: Id(0)] int PromptTokens,
    [property: Id(1)] int CompletionTokens,
    [property: Id(2)] int CachedPromptTokens,
    [property: Id(3)] double TimeToFirstTokenMs,
    [property: Id(4)] int Migrations)
{
    /// <summary>Prompt plus completion.</summary>
    public int TotalTokens => PromptTokens + CompletionTokens;
}
