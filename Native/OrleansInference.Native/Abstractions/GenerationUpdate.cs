namespace OrleansInference.Native;

/// <summary>Why a sample stopped.</summary>
public enum FinishReason
{
    /// <summary>An EOS token, a stop token id or a stop string.</summary>
    Stop,

    /// <summary>Max tokens or the model's context length was reached.</summary>
    Length,

    /// <summary>Aborted by the caller.</summary>
    Aborted,

    /// <summary>The engine failed the request; see <see cref="GenerationUpdate.Error"/>.</summary>
    Error,
}

/// <summary>The log-probability of one token.</summary>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>The chosen token's logprob and the top alternatives at one position.</summary>
public sealed record PositionLogprobs(TokenLogprob Chosen, IReadOnlyList<TokenLogprob> Top);

/// <summary>
/// New output of one sample. The engine emits one update per sample per step at most; a consumer that falls behind
/// receives several (the engine never waits for it).
/// </summary>
public sealed record GenerationUpdate
{
    /// <summary>The request this belongs to.</summary>
    public required string RequestId { get; init; }

    /// <summary>Which sample (FirstSampleIndex-based).</summary>
    public int SampleIndex { get; init; }

    /// <summary>Tokens produced since the previous update of this sample.</summary>
    public IReadOnlyList<int> TokenIds { get; init; } = [];

    /// <summary>Text added by these tokens (held back while it could be the start of a stop string or a partial UTF-8 character).</summary>
    public string Text { get; init; } = "";

    /// <summary>Per-token logprobs, aligned with <see cref="TokenIds"/>, when requested.</summary>
    public IReadOnlyList<PositionLogprobs>? Logprobs { get; init; }

    /// <summary>Set on the last update of a sample.</summary>
    public FinishReason? FinishReason { get; init; }

    /// <summary>The matched stop string or stop token id (as text), when <see cref="FinishReason"/> is Stop.</summary>
    public string? StopReason { get; init; }

    /// <summary>Error message when <see cref="FinishReason"/> is Error.</summary>
    public string? Error { get; init; }

    /// <summary>Prompt length in tokens (including resumed output).</summary>
    public int PromptTokens { get; init; }

    /// <summary>Prompt tokens served from the prefix cache instead of computed.</summary>
    public int CachedPromptTokens { get; init; }

    /// <summary>The seed in effect (reported so a resumed request can reuse it).</summary>
    public ulong Seed { get; init; }

    /// <summary>When these tokens were produced, relative to submission.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Set on the final update of a sample.</summary>
    public GenerationTimings? Timings { get; init; }
}

/// <summary>Latency breakdown of a finished sample.</summary>
/// <param name="Queued">Submission until first scheduled.</param>
/// <param name="FirstToken">Submission until the first new token.</param>
/// <param name="Total">Submission until finish.</param>
/// <param name="OutputTokens">Tokens generated (excluding resumed ones).</param>
public sealed record GenerationTimings(TimeSpan Queued, TimeSpan FirstToken, TimeSpan Total, int OutputTokens);
