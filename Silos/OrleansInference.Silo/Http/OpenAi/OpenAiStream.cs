using OrleansInference.Grains;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.Sse;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>
/// The SSE loop shared by streamed completions and chat: event ids carry the resume position, a failure after the
/// stream started is sent as an <c>{"error":…}</c> event, and the stream always ends with <c>data: [DONE]</c>.
/// </summary>
internal static partial class OpenAiStream
{
    public delegate ValueTask ChunkWriter(TokenChunk chunk, string eventId);

    public static async Task RunAsync(HttpContext context, InferenceCall call, SseWriter sse,
        ChunkWriter writeChunk, Func<UsageInfo, ValueTask>? writeUsage, ApiProblemMapper mapper, ILogger logger)
    {
        UsageInfo? usage = null;
        try
        {
            await foreach (var chunk in call.ReadAllAsync())
            {
                if (chunk.FinishReason == InferenceFinishReason.Error)
                {
                    throw new InferenceException(InferenceErrorCode.Internal, chunk.Error ?? "The request failed while generating.");
                }
                usage = chunk.Usage ?? usage;
                if (chunk.TokenIds.Count > 0 || chunk.Text.Length > 0 || chunk.FinishReason is not null)
                {
                    await writeChunk(chunk, call.EventId);
                }
            }
            if (writeUsage is not null && usage is not null)
            {
                await writeUsage(usage);
            }
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            var problem = mapper.Map(ex, call.RequestId);
            LogStreamFailed(logger, call.RequestId, problem.Status, problem.Message, ex);
            await sse.WriteRawAsync(ApiErrorWriter.ToOpenAiJson(problem));
        }
        await sse.WriteRawAsync("[DONE]");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Streamed request {RequestId} failed after it started ({Status}: {Reason})")]
    private static partial void LogStreamFailed(ILogger logger, string requestId, int status, string reason, Exception exception);
}
