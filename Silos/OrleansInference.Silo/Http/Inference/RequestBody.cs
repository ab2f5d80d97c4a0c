using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>Reads a JSON request body within the configured size limit.</summary>
internal static class RequestBody
{
    public static async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, long maxBytes)
        where T : class
    {
        var request = context.Request;
        if (request.ContentLength is { } length && length > maxBytes)
        {
            throw new ApiRequestException(ApiProblem.TooLarge($"The request body has {length} bytes; at most {maxBytes} are accepted."));
        }
        // Chunked bodies without a length are cut off by Kestrel's MaxRequestBodySize (BadHttpRequestException 413).
        var value = await JsonSerializer.DeserializeAsync(request.Body, typeInfo, context.RequestAborted);
        return value ?? throw ApiRequestException.BadRequest("The request body must be a JSON object.");
    }

    /// <summary>The token counts named by <c>Last-Event-ID</c> (an SSE client resuming a stream), or null.</summary>
    public static IReadOnlyList<int>? ResumeCounts(HttpContext context, int maxSamples)
    {
        string? lastEventId = context.Request.Headers["Last-Event-ID"];
        if (string.IsNullOrEmpty(lastEventId))
        {
            return null;
        }
        if (!RequestIds.IsClientSupplied(context))
        {
            throw ApiRequestException.BadRequest("Resuming with Last-Event-ID needs the X-Request-Id of the original request.", "Last-Event-ID");
        }
        return ResumePosition.Parse(lastEventId, maxSamples).Counts;
    }
}
