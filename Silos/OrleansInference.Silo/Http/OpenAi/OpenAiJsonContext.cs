using System.Text.Json.Serialization;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>Source-generated, snake_case serialization of the OpenAI DTOs; nulls are left out unless a DTO says so.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict,
    AllowTrailingCommas = false,
    ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(CompletionRequestDto))]
[JsonSerializable(typeof(ChatCompletionRequestDto))]
[JsonSerializable(typeof(CompletionResponseDto))]
[JsonSerializable(typeof(ChatCompletionResponseDto))]
[JsonSerializable(typeof(ChatCompletionChunkDto))]
[JsonSerializable(typeof(ModelListDto))]
[JsonSerializable(typeof(ModelCardDto))]
internal sealed partial class OpenAiJsonContext : JsonSerializerContext;
