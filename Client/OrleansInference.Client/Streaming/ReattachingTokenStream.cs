using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using OrleansInference.Grains;

namespace OrleansInference.Client.Streaming;

/// <summary>
/// Streams a request's chunks; when no chunk arrives within the idle timeout, or the call is lost with its silo, it
/// calls the same request grain again with the tokens received so far and carries on, so the caller sees every
/// token once and in order.
/// </summary>
internal sealed partial class ReattachingTokenStream(
    Func<string, IRequestChannel> grainFor, OrleansInferenceClientOptions options, TimeProvider time, ILogger logger)
{
    public async IAsyncEnumerable<TokenChunk> ReadAsync(
        string requestId, InferenceRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var grain = grainFor(requestId);
        var dedup = new ChunkDeduplicator();
        var attempts = new List<StreamAttempt>();
        var finished = false;
        var fruitless = 0;
        try
        {
            while (true)
            {
                var attempt = new StreamAttempt(grain, request, attempts.Count == 0 ? null : dedup.Received.ToArray(), cancellationToken);
                attempts.Add(attempt);
                StepKind step;
                while (true)
                {
                    var timeout = dedup.Started ? options.TokenIdleTimeout : options.FirstTokenTimeout;
                    step = await attempt.NextAsync(timeout, time, cancellationToken).ConfigureAwait(false);
                    if (step != StepKind.Chunk)
                    {
                        break;
                    }
                    var chunk = dedup.Accept(attempt.Current);
                    if (chunk is null)
                    {
                        continue;
                    }
                    fruitless = 0;
                    if (chunk.FinishReason == InferenceFinishReason.Error)
                    {
                        throw InferenceErrors.SampleFailed(chunk);
                    }
                    yield return chunk;
                }
                if (step == StepKind.End)
                {
                    finished = true;
                    yield break;
                }
                attempt.Abandon();
                if (++fruitless > options.MaxReattachAttempts)
                {
                    throw new InferenceTimeoutException(
                        $"Request {requestId} made no progress through {options.MaxReattachAttempts} re-attachments.", attempt.Failure);
                }
                LogReattaching(logger, requestId, step, fruitless, string.Join(',', dedup.Received), attempt.Failure?.GetType().Name);
            }
        }
        finally
        {
            foreach (var attempt in attempts)
            {
                attempt.Cancel();
            }
            if (!finished)
            {
                CancelRequest(grain, requestId);
            }
        }
    }

    /// <summary>
    /// The caller stopped early or the stream failed: make sure the request stops too. Not awaited, since the grain's
    /// silo may be the thing that is gone.
    /// </summary>
    private void CancelRequest(IRequestChannel grain, string requestId) =>
        _ = grain.CancelAsync().WaitAsync(options.TokenIdleTimeout).ContinueWith(
            t => { if (t.Exception is { } e) LogCancelFailed(logger, requestId, e.GetBaseException().Message); },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Request {RequestId}: stream {Step}; re-attaching (attempt {Attempt}, tokens received {Received}, failure {Failure})")]
    private static partial void LogReattaching(ILogger logger, string requestId, StepKind step, int attempt, string received, string? failure);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId}: cancelling after the stream ended early failed: {Reason}")]
    private static partial void LogCancelFailed(ILogger logger, string requestId, string reason);
}
