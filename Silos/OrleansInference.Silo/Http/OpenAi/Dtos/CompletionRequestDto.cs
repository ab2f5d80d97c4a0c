using OrleansInference.Silo.Http.OpenAi.Json;

namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>Body of <c>POST /v1/completions</c>.</summary>
internal sealed class CompletionRequestDto : SamplingFieldsDto
{
    public PromptInput? Prompt { get; set; }

    /// <summary>Number of top alternatives per position (0–20); null for none.</summary>
    public int? Logprobs { get; set; }

    public bool? Echo { get; set; }
    public string? Suffix { get; set; }
}
