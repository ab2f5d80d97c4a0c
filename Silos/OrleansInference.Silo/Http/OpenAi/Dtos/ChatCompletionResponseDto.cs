using System.Text.Json.Serialization;

namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>A chat completion response (object <c>chat.completion</c>).</summary>
internal sealed record ChatCompletionResponseDto(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChatChoiceDto> Choices,
    UsageDto? Usage);

/// <summary>One sample.</summary>
internal sealed record ChatChoiceDto(
    int Index,
    ChatMessageOutputDto Message,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>The assistant's message.</summary>
internal sealed record ChatMessageOutputDto(string Role, string Content);

/// <summary>Chat logprobs: one entry per output token.</summary>
internal sealed record ChatLogprobsDto(IReadOnlyList<ChatTokenLogprobDto> Content);

/// <summary>A chosen token with its alternatives.</summary>
internal sealed record ChatTokenLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes, IReadOnlyList<ChatTopLogprobDto> TopLogprobs);

/// <summary>An alternative token.</summary>
internal sealed record ChatTopLogprobDto(string Token, float Logprob, IReadOnlyList<int> Bytes);

/// <summary>A streamed chat chunk (object <c>chat.completion.chunk</c>).</summary>
internal sealed record ChatCompletionChunkDto(
    string Id,
    string Object,
    long Created,
    string Model,
    IReadOnlyList<ChatChunkChoiceDto> Choices,
    UsageDto? Usage);

/// <summary>One sample's delta.</summary>
internal sealed record ChatChunkChoiceDto(
    int Index,
    ChatDeltaDto Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobsDto? Logprobs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason);

/// <summary>New role and/or content.</summary>
internal sealed record ChatDeltaDto(string? Role, string? Content);
