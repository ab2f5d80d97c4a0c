using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>What the V2 endpoints say about served models.</summary>
internal static class KServeModels
{
    public const string Version = "1";
    public const string Platform = "orleans-inference";
    public const string TextInput = "text_input";
    public const string InputIds = "input_ids";
    public const string TextOutput = "text_output";
    public const string OutputIds = "output_ids";

    public static ModelMetadataDto Metadata(ServedModel model) => new(
        model.Id,
        [Version],
        Platform,
        [new TensorMetadataDto(TextInput, "BYTES", [1]), new TensorMetadataDto(InputIds, "INT64", [-1])],
        [new TensorMetadataDto(TextOutput, "BYTES", [1]), new TensorMetadataDto(OutputIds, "INT64", [-1])]);

    /// <summary>The model in the URL: served here or by another silo; 404 when no silo serves it, 503 when its workers are gone.</summary>
    public static ValueTask<ServedModel> ResolveAsync(ModelResolver models, string name, CancellationToken ct) =>
        string.IsNullOrEmpty(name) ? throw new ApiRequestException(ApiProblem.ModelNotFound(name)) : models.ResolveAsync(name, ct);
}
