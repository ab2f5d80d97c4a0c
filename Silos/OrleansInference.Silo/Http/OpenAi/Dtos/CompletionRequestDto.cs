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

    /// <summary>
    /// Extension (as vLLM): each choice (and each streamed chunk) also carries the ids of its output tokens, so a client
    /// can compare outputs token for token.
    /// </summary>
    public bool? ReturnTokenIds { get; set; }
}
