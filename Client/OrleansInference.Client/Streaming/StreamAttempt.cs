using OrleansInference.Grains;

namespace OrleansInference.Client.Streaming;

/// <summary>What waiting for the next chunk of one attempt produced.</summary>
internal enum StepKind
{
    /// <summary>A chunk arrived.</summary>
    Chunk,

    /// <summary>The request ended.</summary>
    End,

    /// <summary>Nothing arrived within the idle timeout.</summary>
    Stalled,

    /// <summary>The call failed in a way a re-attachment may fix (silo lost, enumerator gone, timeout).</summary>
    Lost,
}

/// <summary>One call of <see cref="IRequestGrain.GenerateAsync"/>, read with a timeout per chunk.</summary>
internal sealed class StreamAttempt
{
    private readonly CancellationTokenSource _cancellation;
    private readonly IAsyncEnumerator<TokenChunk> _enumerator;
    private Task<bool>? _pending;

    public StreamAttempt(IRequestChannel grain, InferenceRequest request, IReadOnlyList<int>? received, CancellationToken cancellationToken)
    {
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _enumerator = grain.GenerateAsync(request, received, _cancellation.Token).GetAsyncEnumerator(_cancellation.Token);
    }

    public TokenChunk Current => _enumerator.Current;

    public Exception? Failure { get; private set; }

    public async Task<StepKind> NextAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        _pending ??= _enumerator.MoveNextAsync().AsTask();
        using (var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var delay = Task.Delay(timeout, time, timer.Token);
            var first = await Task.WhenAny(_pending, delay).ConfigureAwait(false);
            timer.Cancel();
            if (first != _pending)
            {
                cancellationToken.ThrowIfCancellationRequested();
                return StepKind.Stalled;
            }
        }
        var pending = _pending;
        _pending = null;
        try
        {
            return await pending.ConfigureAwait(false) ? StepKind.Chunk : StepKind.End;
        }
        catch (InferenceException e)
        {
            throw InferenceErrors.ToClientException(e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (IsTransient(e))
        {
            Failure = e;
            return StepKind.Lost;
        }
    }

    /// <summary>
    /// Leaves the attempt without cancelling it: cancelling an enumeration cancels the request itself, which must go
    /// on for the next attempt. Its outcome is observed so it never surfaces as an unobserved task exception.
    /// </summary>
    public void Abandon() => _pending?.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Ends the attempt's call (once the request is over or the caller gave up).</summary>
    public void Cancel()
    {
        try
        {
            _cancellation.Cancel();
        }
        catch (AggregateException)
        {
            // Callbacks of a dead call may throw; the attempt is over either way.
        }
        Abandon();
    }

    private static bool IsTransient(Exception e) =>
        e is TimeoutException or OrleansException
        || e.GetType().Name is "EnumerationAbortedException" or "ClientNotAvailableException";
}
