using OrleansInference.Grains;
using OrleansInference.Silo.Metrics;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// One running request as seen by an HTTP handler: its chunks, latency metrics, and cancellation of the request grain
/// when the client goes away before the end.
/// </summary>
internal sealed partial class InferenceCall : IAsyncDisposable
{
    private readonly string _model;
    private readonly IRequestGrain _grain;
    private readonly StreamReattach? _reattach;
    private readonly ResumePosition _delivered;
    private IAsyncEnumerator<TokenChunk> _enumerator;
    private int _reattachments;
    private readonly long _started;
    private readonly InferenceHttpMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly TimeSpan _cancelTimeout;
    private readonly CancellationToken _clientAborted;
    private readonly ILogger _logger;
    private readonly bool _cancelOnDisconnect;
    private TokenChunk? _first;
    private bool _hasFirst;
    private bool _completed;
    private bool _sawToken;
    private long _lastTokenAt;

    public InferenceCall(string requestId, string model, IRequestGrain grain, IAsyncEnumerator<TokenChunk> enumerator, long started,
        InferenceHttpMetrics metrics, TimeProvider time, TimeSpan cancelTimeout, ILogger logger, CancellationToken clientAborted = default,
        bool cancelOnDisconnect = true, StreamReattach? reattach = null, IReadOnlyList<int>? receivedTokens = null)
    {
        _reattach = reattach;
        _delivered = new ResumePosition(receivedTokens);
        _clientAborted = clientAborted;
        _cancelOnDisconnect = cancelOnDisconnect;
        RequestId = requestId;
        _model = model;
        _grain = grain;
        _enumerator = enumerator;
        _started = started;
        _metrics = metrics;
        _time = time;
        _cancelTimeout = cancelTimeout;
        _logger = logger;
    }

    public string RequestId { get; }

    /// <summary>The SSE event id of what has been passed on so far: tokens per sample (see <see cref="ResumePosition"/>).</summary>
    public string EventId => _delivered.Format();

    /// <summary>Re-attachments this response made after losing the grain's stream.</summary>
    public int Reattachments => _reattachments;

    internal async Task PrefetchAsync()
    {
        _hasFirst = await NextAsync();
        if (_hasFirst)
        {
            _first = _enumerator.Current;
            Observe(_first);
        }
        else
        {
            _completed = true;
        }
    }

    /// <summary>All chunks, the prefetched one first. Enumerate once.</summary>
    public async IAsyncEnumerable<TokenChunk> ReadAllAsync()
    {
        if (!_hasFirst)
        {
            yield break;
        }
        yield return _first!;
        while (await NextAsync())
        {
            var chunk = _enumerator.Current;
            Observe(chunk);
            yield return chunk;
        }
        _completed = true;
    }

    /// <summary>
    /// The next new chunk. A lost grain stream is re-attached from the tokens sent so far; chunks that a re-attached
    /// stream repeats are skipped, so the client sees every token once.
    /// </summary>
    private async ValueTask<bool> NextAsync()
    {
        while (true)
        {
            bool more;
            try
            {
                more = await _enumerator.MoveNextAsync();
            }
            catch (Exception ex) when (LostCalls.IsLostTarget(ex) && _reattach is { } r && _reattachments < r.Attempts
                && !_clientAborted.IsCancellationRequested)
            {
                _reattachments++;
                LogReattaching(_logger, RequestId, _reattachments, r.Attempts, _delivered.Format(), ex.GetType().Name);
                await DisposeEnumeratorAsync();
                if (_reattachments > 1)
                {
                    await Task.Delay(r.Delay * (_reattachments - 1), _time, _clientAborted);
                }
                _enumerator = r.Start([.. _delivered.Counts]);
                continue;
            }
            if (!more)
            {
                return false;
            }
            var chunk = _enumerator.Current;
            var sent = chunk.Index < _delivered.Counts.Count ? _delivered.Counts[chunk.Index] : 0;
            if (chunk.TokenIds.Count > 0 && chunk.Offset + chunk.TokenIds.Count <= sent)
            {
                continue;
            }
            _delivered.Advance(chunk.Index, chunk.Offset + chunk.TokenIds.Count);
            return true;
        }
    }

    private async ValueTask DisposeEnumeratorAsync()
    {
        try
        {
            await _enumerator.DisposeAsync();
        }
        catch (Exception ex)
        {
            LogDisposeFailed(_logger, RequestId, ex.GetType().Name);
        }
    }

    private void Observe(TokenChunk chunk)
    {
        var now = _time.GetTimestamp();
        if (chunk.TokenIds.Count > 0)
        {
            if (!_sawToken)
            {
                _sawToken = true;
                _metrics.TimeToFirstToken(_model, _time.GetElapsedTime(_started, now));
                if (chunk.TokenIds.Count > 1)
                {
                    _metrics.InterTokenLatency(_model, TimeSpan.Zero, chunk.TokenIds.Count - 1);
                }
            }
            else
            {
                _metrics.InterTokenLatency(_model, _time.GetElapsedTime(_lastTokenAt, now), chunk.TokenIds.Count);
            }
            _lastTokenAt = now;
        }
        if (chunk.Usage is { } usage)
        {
            _metrics.Finished(_model, _time.GetElapsedTime(_started, now), usage.PromptTokens, usage.CompletionTokens);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The call already ended (or failed, which whoever saw it first reported); a failing cleanup must not turn a
        // response that was fully written into an aborted connection.
        await DisposeEnumeratorAsync();
        // A client that named its request and whose connection dropped may come back with Last-Event-ID: the request
        // grain keeps the request for Inference:DetachedRequestGrace and cancels it then if nobody re-attached. Any
        // other client going away, or a call that ended here for another reason (a failure while writing), is
        // cancelled now.
        if (!_completed && (_cancelOnDisconnect || !_clientAborted.IsCancellationRequested))
        {
            await CancelGrainAsync();
        }
    }

    /// <summary>
    /// Cancelling the enumeration already reaches the grain; this explicit cancel makes sure the engine frees the
    /// request's blocks even if that message was lost with the connection.
    /// </summary>
    private async Task CancelGrainAsync()
    {
        try
        {
            await _grain.CancelAsync().WaitAsync(_cancelTimeout);
            LogCancelled(_logger, RequestId);
        }
        catch (Exception ex)
        {
            LogCancelFailed(_logger, RequestId, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Request {RequestId}: the request grain's stream was lost ({Error}); re-attaching from tokens {Delivered} (attempt {Attempt} of {Attempts})")]
    private static partial void LogReattaching(ILogger logger, string requestId, int attempt, int attempts, string delivered, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId}: closing the grain stream failed ({Error})")]
    private static partial void LogDisposeFailed(ILogger logger, string requestId, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} cancelled: the client went away")]
    private static partial void LogCancelled(ILogger logger, string requestId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: cancelling the request grain failed")]
    private static partial void LogCancelFailed(ILogger logger, string requestId, Exception exception);
}
