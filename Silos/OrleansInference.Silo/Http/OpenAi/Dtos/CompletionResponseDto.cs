using System.Text.Json.Serialization;

namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>A completion response, and (object <c>text_completion</c>) each streamed chunk of one.</summary>
internal sealed record CompletionResponseDto(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<CompletionChoiceDto> Choices,
    UsageDto? Usage);

/// <summary>One sample.</summary>
internal sealed record CompletionChoiceDto(
    int Index,
    string Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>The legacy completions logprobs layout: parallel arrays per output token.</summary>
internal sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>> TopLogprobs,
    IReadOnlyList<int> TextOffset);
