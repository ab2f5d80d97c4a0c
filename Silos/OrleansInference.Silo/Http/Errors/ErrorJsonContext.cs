using System.Text.Json.Serialization;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed record OpenAiErrorBody(OpenAiError Error);

/// <summary>The inner error object; <c>param</c> and <c>code</c> are written even when null, as OpenAI does.</summary>
internal sealed record OpenAiError(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

/// <summary>KServe V2's error body: <c>{"error": "..."}</c>.</summary>
internal sealed record KServeErrorBody(string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(OpenAiErrorBody))]
[JsonSerializable(typeof(KServeErrorBody))]
internal sealed partial class ErrorJsonContext : JsonSerializerContext;
