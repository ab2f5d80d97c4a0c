using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansInference.Silo.Http.OpenAi.Json;

namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>Body of <c>POST /v1/chat/completions</c>.</summary>
internal sealed class ChatCompletionRequestDto : SamplingFieldsDto
{
    public List<ChatMessageInputDto>? Messages { get; set; }
    public int? MaxCompletionTokens { get; set; }
    public bool? Logprobs { get; set; }
    public int? TopLogprobs { get; set; }
    public JsonElement? Tools { get; set; }
    public JsonElement? ResponseFormat { get; set; }
}

/// <summary>One input message.</summary>
internal sealed class ChatMessageInputDto
{
    public string? Role { get; set; }

    [JsonConverter(typeof(MessageContentConverter))]
    public string? Content { get; set; }

    public string? Name { get; set; }
}
