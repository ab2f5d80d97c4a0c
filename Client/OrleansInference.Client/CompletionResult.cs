using OrleansInference.Grains;

namespace OrleansInference.Client;

/// <summary>A finished request: one choice per sample, and the token accounting.</summary>
/// <param name="RequestId">The request id (re-attachable while the request grain lives).</param>
/// <param name="Model">The model that served it.</param>
/// <param name="Choices">Samples, by index.</param>
/// <param name="Usage">Token accounting, when the cluster reported it.</param>
public sealed record CompletionResult(string RequestId, string Model, IReadOnlyList<CompletionChoice> Choices, UsageInfo? Usage)
{
    /// <summary>The first sample's text.</summary>
    public string Text => Choices.Count > 0 ? Choices[0].Text : "";
}

/// <summary>One sample of a finished request.</summary>
/// <param name="Index">Sample index.</param>
/// <param name="Text">Generated text.</param>
/// <param name="TokenIds">Generated token ids.</param>
/// <param name="FinishReason">Why it ended.</param>
/// <param name="Logprobs">Per-token logprobs when requested.</param>
public sealed record CompletionChoice(
    int Index, string Text, IReadOnlyList<int> TokenIds, InferenceFinishReason? FinishReason, IReadOnlyList<PositionLogprobsDto>? Logprobs);
