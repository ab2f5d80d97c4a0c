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
    [property: Id(4)] string? Error)
{
    /// <summary>
    /// Per recovery, the time from the failure being detected (a worker call failed, or a caller resumed a request
    /// whose grain had died) to the first token produced after it, in milliseconds.
    /// </summary>
    [Id(5)] public IReadOnlyList<double> RecoveryTimesMs { get; init; } = [];

    /// <summary>Times the request grain itself was re-created from its checkpoint after its silo died.</summary>
    [Id(6)] public int Resumes { get; init; }

    /// <summary>Per sample, how it ended (null while running).</summary>
    [Id(7)] public IReadOnlyList<InferenceFinishReason?> FinishReasons { get; init; } = [];
}

/// <summary>
/// One grain per request id: places the request, streams its tokens, records what it delivered, propagates
/// cancellation to the engine and re-places it when its worker dies.
/// </summary>
public interface IRequestGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the request (first call) or re-attaches to it (same request id after a lost connection), skipping, per
    /// sample, the first <paramref name="receivedTokens"/> tokens the caller already has (null = none).
    /// When the latest caller stops reading (cancels or drops the enumeration) the request is cancelled unless a caller
    /// re-attaches within the silo's <c>Inference:DetachedRequestGrace</c>; <see cref="CancelAsync"/> cancels at once. When this activation does not know the request but the caller
    /// says it received tokens (a resume after the request grain's silo died), the request continues from its
    /// checkpoint in grain storage; its undelivered tail is generated again, identical to the uninterrupted run.
    /// </summary>
    IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens = null, CancellationToken cancellationToken = default);

    /// <summary>Cancels the request; its KV blocks are freed on the worker.</summary>
    Task CancelAsync();

    /// <summary>Current state.</summary>
    Task<RequestStatus> GetStatusAsync();
}
