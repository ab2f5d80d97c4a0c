using OrleansInference.Grains;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>An error response before it is written in an API's own body format.</summary>
/// <param name="Status">HTTP status code.</param>
/// <param name="Type">OpenAI's error <c>type</c>.</param>
/// <param name="Code">Machine-readable code.</param>
/// <param name="Message">Human-readable message (never a stack trace).</param>
/// <param name="Param">The offending request field, when one is to blame.</param>
/// <param name="RetryAfterSeconds">Sent as <c>Retry-After</c> when set.</param>
internal sealed record ApiProblem(int Status, string Type, string Code, string Message, string? Param = null, int? RetryAfterSeconds = null)
{
    public static ApiProblem BadRequest(string message, string? param = null) =>
        new(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request", message, param);

    public static ApiProblem ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, "not_found_error", "model_not_found", InferenceException.ModelNotServed(model).Message, "model");

    /// <summary>A model the cluster serves but whose workers are all gone (503).</summary>
    public static ApiProblem ModelUnavailable(string model, int retryAfterSeconds) =>
        new(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "unavailable", InferenceException.NoLiveWorker(model).Message, "model", retryAfterSeconds);

    public static ApiProblem TooLarge(string message, string? param = null) =>
        new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "request_too_large", message, param);
}
