using OrleansInference.Grains;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>OpenAI's <c>finish_reason</c> strings.</summary>
internal static class OpenAiFinishReasons
{
    public static string? ToOpenAi(InferenceFinishReason? reason) => reason switch
    {
        InferenceFinishReason.Stop => "stop",
        InferenceFinishReason.Length => "length",
        // vLLM's name for a request aborted on the server side.
        InferenceFinishReason.Cancelled => "abort",
        InferenceFinishReason.Error => "error",
        _ => null,
    };

    public static Dtos.UsageDto? ToUsage(UsageInfo? usage) => usage is null
        ? null
        : new Dtos.UsageDto(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, new Dtos.PromptTokensDetailsDto(usage.CachedPromptTokens));
}
