using Microsoft.Extensions.Options;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Metrics;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>
/// Around every API call: turns exceptions into error bodies in the API's style (never with internals), treats a
/// client that went away as such, and counts requests by endpoint and status.
/// </summary>
internal sealed partial class ApiExceptionMiddleware(RequestDelegate next, IOptions<HttpApiOptions> options, InferenceHttpMetrics metrics,
    ILogger<ApiExceptionMiddleware> logger)
{
    /// <summary>Status recorded for calls whose client disconnected (nginx's convention).</summary>
    private const int ClientClosedRequest = 499;

    private readonly ApiProblemMapper _mapper = new(options.Value.RetryAfterSeconds);

    public async Task InvokeAsync(HttpContext context)
    {
        var style = context.Request.Path.StartsWithSegments("/v2") ? ErrorStyle.KServe : ErrorStyle.OpenAi;
        var status = StatusCodes.Status200OK;
        try
        {
            await next(context);
            status = context.Response.StatusCode;
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            status = ClientClosedRequest;
        }
        catch (Exception ex)
        {
            var requestId = RequestIds.Get(context);
            var problem = _mapper.Map(ex, requestId);
            status = problem.Status;
            if (problem.Status >= StatusCodes.Status500InternalServerError && problem.Status != StatusCodes.Status503ServiceUnavailable)
            {
                LogFailed(logger, requestId, context.Request.Path, ex);
            }
            else
            {
                LogRefused(logger, requestId, context.Request.Path, problem.Status, problem.Message);
            }
            if (context.Response.HasStarted)
            {
                // A stream already under way reports its errors itself; nothing more can be said here.
                context.Abort();
            }
            else
            {
                await ApiErrorWriter.WriteAsync(context, problem, style);
            }
        }
        finally
        {
            var endpoint = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
            metrics.Request(endpoint, status);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Request {RequestId} to {Path} failed")]
    private static partial void LogFailed(ILogger logger, string requestId, PathString path, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} to {Path} refused with {Status}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string requestId, PathString path, int status, string reason);
}
