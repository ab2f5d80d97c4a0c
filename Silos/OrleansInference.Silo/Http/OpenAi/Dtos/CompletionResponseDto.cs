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

/// <summary>One sample; <see cref="TokenIds"/> only when the request set <c>return_token_ids</c>.</summary>
internal sealed record CompletionChoiceDto(
    int Index,
    string Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    IReadOnlyList<int>? TokenIds = null);

/// <summary>The legacy completions logprobs layout: parallel arrays per output token.</summary>
internal sealed record CompletionLogprobsDto(
    IReadOnlyList<string> Tokens,
    IReadOnlyList<float> TokenLogprobs,
    IReadOnlyList<Dictionary<string, float>> TopLogprobs,
    IReadOnlyList<int> TextOffset);
