using System.Globalization;
using System.Text.Json;
using Microsoft.Net.Http.Headers;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>The body format an API family uses for errors.</summary>
internal enum ErrorStyle
{
    /// <summary><c>{"error":{"message","type","param","code"}}</c>.</summary>
    OpenAi,

    /// <summary><c>{"error":"..."}</c>.</summary>
    KServe,
}

/// <summary>Writes an <see cref="ApiProblem"/> as a response, when the response has not started yet.</summary>
internal static class ApiErrorWriter
{
    public static async Task WriteAsync(HttpContext context, ApiProblem problem, ErrorStyle style)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }
        response.StatusCode = problem.Status;
        if (problem.RetryAfterSeconds is { } seconds)
        {
            response.Headers[HeaderNames.RetryAfter] = seconds.ToString(CultureInfo.InvariantCulture);
        }
        response.ContentType = "application/json";
        var ct = context.RequestAborted;
        switch (style)
        {
            case ErrorStyle.KServe:
                await JsonSerializer.SerializeAsync(response.Body, new KServeErrorBody(problem.Message), ErrorJsonContext.Default.KServeErrorBody, ct);
                break;
            default:
                await JsonSerializer.SerializeAsync(response.Body,
                    new OpenAiErrorBody(new OpenAiError(problem.Message, problem.Type, problem.Param, problem.Code)),
                    ErrorJsonContext.Default.OpenAiErrorBody, ct);
                break;
        }
    }

    /// <summary>OpenAI's error object as written inside an SSE stream that already started.</summary>
    public static string ToOpenAiJson(ApiProblem problem) => JsonSerializer.Serialize(
        new OpenAiErrorBody(new OpenAiError(problem.Message, problem.Type, problem.Param, problem.Code)), ErrorJsonContext.Default.OpenAiErrorBody);
}
