using Microsoft.Extensions.Options;
using OrleansInference.Grains;
using OrleansInference.Silo.Metrics;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>Starts requests on request grains for the HTTP APIs.</summary>
internal sealed partial class InferenceGateway(
    IGrainFactory grains,
    IOptions<HttpApiOptions> options,
    InferenceHttpMetrics metrics,
    TimeProvider time,
    ILogger<InferenceGateway> logger)
{
    /// <summary>
    /// Starts (or re-attaches to) request <paramref name="requestId"/> and waits for its first chunk, so that a refusal
    /// (bad input, full queue, no worker) surfaces as an exception before any response byte is written.
    /// <paramref name="resumable"/>: the client named the request and may resume it after a dropped connection, so a
    /// disconnect leaves the cancellation to the request grain's <c>Inference:DetachedRequestGrace</c>.
    /// </summary>
    public async Task<InferenceCall> StartAsync(
        string requestId, InferenceRequest request, IReadOnlyList<int>? receivedTokens, CancellationToken aborted, bool resumable = false)
    {
        var grain = grains.GetGrain<IRequestGrain>(requestId);
        var started = time.GetTimestamp();
        IAsyncEnumerator<TokenChunk> Start(IReadOnlyList<int>? delivered) => grain.GenerateAsync(request, delivered, aborted).GetAsyncEnumerator(aborted);
        var enumerator = Start(receivedTokens);
        // A lost grain stream is picked up again from what this response has sent (non-null: a resume, so the grain
        // reads its checkpoint).
        var reattach = new StreamReattach(Start, options.Value.StreamReattachAttempts, options.Value.StreamReattachDelay);
        var call = new InferenceCall(requestId, request.Model, grain, enumerator, started, metrics, time, options.Value.CancelTimeout, logger,
            aborted, cancelOnDisconnect: !resumable, reattach, receivedTokens);
        try
        {
            await call.PrefetchAsync();
            LogStarted(logger, requestId, request.Model, receivedTokens is not null);
            return call;
        }
        catch
        {
            await call.DisposeAsync();
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} for model {Model} started (resumed: {Resumed})")]
    private static partial void LogStarted(ILogger logger, string requestId, string model, bool resumed);
}
