using System.Text.Json;
using Orleans.Runtime;
using OrleansInference.Grains;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>Turns exceptions into error responses; unknown failures become a 500 that reveals nothing internal.</summary>
internal sealed class ApiProblemMapper(int retryAfterSeconds)
{
    public ApiProblem Map(Exception exception, string requestId) => exception switch
    {
        ApiRequestException e => e.Problem,
        InferenceException e => FromInference(e),
        JsonException e => FromJson(e),
        BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
            ApiProblem.TooLarge("The request body is larger than the server accepts."),
        BadHttpRequestException e => new(e.StatusCode, "invalid_request_error", "bad_request", "The request could not be read."),
        // The request's grain (or its silo) went away under the call: retryable, the request itself may go on.
        _ when LostCalls.IsLostTarget(exception) =>
            new(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "unavailable",
                $"The cluster could not serve the request right now; retry it (request id {requestId}).", RetryAfterSeconds: retryAfterSeconds),
        _ => Internal(requestId),
    };

    public static ApiProblem Internal(string requestId) =>
        new(StatusCodes.Status500InternalServerError, "server_error", "internal_error",
            $"The server failed while processing the request (request id {requestId}).");

    private ApiProblem FromInference(InferenceException e) => e.Code switch
    {
        InferenceErrorCode.InvalidRequest => new(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_request", e.Message, e.Param),
        InferenceErrorCode.ModelNotFound => new(StatusCodes.Status404NotFound, "not_found_error", "model_not_found", e.Message, e.Param ?? "model"),
        InferenceErrorCode.TooLarge => new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "context_length_exceeded", e.Message, e.Param),
        InferenceErrorCode.Overloaded => new(StatusCodes.Status429TooManyRequests, "rate_limit_error", "overloaded", e.Message, e.Param, retryAfterSeconds),
        InferenceErrorCode.Unavailable => new(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "unavailable", e.Message, e.Param, retryAfterSeconds),
        // Internal errors carry engine text that is meant for users (the grain never puts stack traces in it).
        _ => new(StatusCodes.Status500InternalServerError, "server_error", "internal_error", e.Message, e.Param),
    };

    private static ApiProblem FromJson(JsonException e)
    {
        var field = JsonFieldPath.ToParam(e.Path);
        var where = e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
        if (e is JsonFieldException)
        {
            return ApiProblem.BadRequest(e.Message, field);
        }
        // Reading a value of the wrong type fails with no inner exception or a conversion one; syntax errors come
        // from the reader itself.
        if (field is not null && e.InnerException is null or InvalidOperationException or FormatException or OverflowException)
        {
            return ApiProblem.BadRequest($"The field '{field}' has a value of the wrong type{where}.", field);
        }
        var reason = e.InnerException?.Message ?? "malformed JSON";
        var cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        reason = (cut >= 0 ? reason[..cut] : reason).TrimEnd(' ', '.');
        return ApiProblem.BadRequest($"The request body is not valid JSON: {reason}{where}.");
    }
}
