namespace OrleansInference.Grains;

/// <summary>Lifecycle states of a request.</summary>
[GenerateSerializer]
public enum RequestState
{
    /// <summary>Not started.</summary>
    New,
    /// <summary>Waiting for placement or in the engine's queue.</summary>
    Queued,
    /// <summary>Prompt being computed.</summary>
    Prefilling,
    /// <summary>Producing tokens.</summary>
    Decoding,
    /// <summary>All samples finished.</summary>
    Finished,
    /// <summary>Ended with an error.</summary>
    Failed,
    /// <summary>Cancelled by the caller.</summary>
    Cancelled,
}

/// <summary>What a request grain has done so far.</summary>
[GenerateSerializer, Immutable]
public sealed record RequestStatus(
    [property: Id(0)] RequestState State,
    [property: Id(1)] IReadOnlyList<int> DeliveredTokens,
    [property: Id(2)] string? WorkerId,
    [property: Id(3)] int Migrations,
    [property: Id(4)] string? Error);

/// <summary>
/// One grain per request id: places the request, streams its tokens, records what it delivered, propagates
/// cancellation to the engine and re-places it when its worker dies.
/// </summary>
public interface IRequestGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the request (first call) or re-attaches to it (same request id after a lost connection), skipping, per
    /// sample, the first <paramref name="receivedTokens"/> tokens the caller already has (null = none).
    /// Cancelling the enumeration cancels the request, unless a caller re-attaches within the silo's grace
    /// (<c>Inference:ReattachGrace</c>, 3 s by default): a dropped connection can be resumed.
    /// </summary>
    IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens = null, CancellationToken cancellationToken = default);

    /// <summary>Cancels the request; its KV blocks are freed on the worker.</summary>
    Task CancelAsync();

    /// <summary>Current state.</summary>
    Task<RequestStatus> GetStatusAsync();
}
