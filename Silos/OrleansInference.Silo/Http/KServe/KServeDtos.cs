using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>Body of <c>POST /v2/models/{name}/infer</c> (KServe V2 / Open Inference Protocol).</summary>
internal sealed class InferRequestDto
{
    public string? Id { get; set; }
    public Dictionary<string, JsonElement>? Parameters { get; set; }
    public List<InferInputDto>? Inputs { get; set; }
    public List<RequestedOutputDto>? Outputs { get; set; }
}

/// <summary>An input tensor; <c>data</c> may be flat or nested row-major.</summary>
internal sealed class InferInputDto
{
    public string? Name { get; set; }
    public List<long>? Shape { get; set; }
    public string? Datatype { get; set; }
    public Dictionary<string, JsonElement>? Parameters { get; set; }
    public JsonElement Data { get; set; }
}

/// <summary>An output the client asks for.</summary>
internal sealed class RequestedOutputDto
{
    public string? Name { get; set; }
}

/// <summary>Inference response.</summary>
internal sealed record InferResponseDto(
    string ModelName,
    string ModelVersion,
    string? Id,
    Dictionary<string, JsonElement>? Parameters,
    IReadOnlyList<InferOutputDto> Outputs);

/// <summary>An output tensor.</summary>
internal sealed record InferOutputDto(string Name, IReadOnlyList<long> Shape, string Datatype, JsonElement Data);

/// <summary><c>GET /v2/models/{name}</c>.</summary>
internal sealed record ModelMetadataDto(
    string Name,
    IReadOnlyList<string> Versions,
    string Platform,
    IReadOnlyList<TensorMetadataDto> Inputs,
    IReadOnlyList<TensorMetadataDto> Outputs);

/// <summary>Name, type and shape (-1 = variable) of a tensor.</summary>
internal sealed record TensorMetadataDto(string Name, string Datatype, IReadOnlyList<long> Shape);

/// <summary><c>GET /v2</c>.</summary>
internal sealed record ServerMetadataDto(string Name, string Version, IReadOnlyList<string> Extensions);

/// <summary><c>GET /v2/health/live</c>.</summary>
internal sealed record LiveDto(bool Live);

/// <summary><c>GET /v2/health/ready</c>.</summary>
internal sealed record ReadyDto(bool Ready);

/// <summary><c>GET /v2/models/{name}/ready</c>.</summary>
internal sealed record ModelReadyDto(string Name, bool Ready);

/// <summary>
/// Body of the generate extension: <c>text_input</c> or <c>input_ids</c>, sampling in <c>parameters</c>; other
/// top-level fields are read as parameters too (as Triton does).
/// </summary>
internal sealed class GenerateRequestDto
{
    public string? Id { get; set; }
    public string? TextInput { get; set; }
    public List<int>? InputIds { get; set; }
    public Dictionary<string, JsonElement>? Parameters { get; set; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; set; }
}

/// <summary>Generate response, and each event of <c>generate_stream</c> (with the new text only).</summary>
internal sealed record GenerateResponseDto(
    string ModelName,
    string ModelVersion,
    string? Id,
    string TextOutput,
    IReadOnlyList<int> OutputIds,
    string? FinishReason,
    int? PromptTokens,
    int? CompletionTokens);

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(InferRequestDto))]
[JsonSerializable(typeof(InferResponseDto))]
[JsonSerializable(typeof(ModelMetadataDto))]
[JsonSerializable(typeof(ServerMetadataDto))]
[JsonSerializable(typeof(LiveDto))]
[JsonSerializable(typeof(ReadyDto))]
[JsonSerializable(typeof(ModelReadyDto))]
[JsonSerializable(typeof(GenerateRequestDto))]
[JsonSerializable(typeof(GenerateResponseDto))]
[JsonSerializable(typeof(ErrorEvent))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<long>))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
internal sealed partial class KServeJsonContext : JsonSerializerContext;
