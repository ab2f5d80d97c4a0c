namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>Token accounting of a response.</summary>
internal sealed record UsageDto(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetailsDto PromptTokensDetails);

/// <summary>Prompt tokens served from the prefix cache.</summary>
internal sealed record PromptTokensDetailsDto(int CachedTokens);
