using OrleansInference.Grains;

namespace OrleansInference.Client.Streaming;

/// <summary>The two request-grain calls the stream needs; a seam so the re-attach logic can be tested alone.</summary>
internal interface IRequestChannel
{
    IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens, CancellationToken cancellationToken);

    Task CancelAsync();
}

/// <summary>A request grain as an <see cref="IRequestChannel"/>.</summary>
internal sealed class RequestGrainChannel(IRequestGrain grain) : IRequestChannel
{
    public IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens, CancellationToken cancellationToken) =>
        grain.GenerateAsync(request, receivedTokens, cancellationToken);

    public Task CancelAsync() => grain.CancelAsync();
}
