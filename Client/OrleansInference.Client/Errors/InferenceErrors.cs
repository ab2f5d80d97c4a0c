using OrleansInference.Grains;

namespace OrleansInference.Client;

/// <summary>Maps the cluster's <see cref="InferenceException"/> to the SDK's typed exceptions.</summary>
internal static class InferenceErrors
{
    public static InferenceRequestException ToClientException(InferenceException e) => e.Code switch
    {
        InferenceErrorCode.ModelNotFound => new ModelNotFoundException(e.Message, e.Param, e),
        InferenceErrorCode.TooLarge => new PromptTooLargeException(e.Message, e.Param, e),
        InferenceErrorCode.Overloaded => new OverloadedException(e.Message, e.Param, e),
        InferenceErrorCode.Unavailable => new InferenceUnavailableException(e.Message, e.Param, e),
        _ => new InferenceRequestException(e.Code, e.Message, e.Param, e),
    };

    public static InferenceRequestException SampleFailed(TokenChunk chunk) =>
        new(InferenceErrorCode.Internal, chunk.Error ?? $"Sample {chunk.Index} of request {chunk.RequestId} failed.");
}
