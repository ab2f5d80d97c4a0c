using System.Runtime.CompilerServices;
using OrleansInference.Client.Streaming;
using OrleansInference.Grains;

namespace OrleansInference.Client.Tests.Infrastructure;

/// <summary>
/// Stands in for a request grain (through the SDK's channel seam, so Orleans does not take it for a grain) to isolate the SDK's re-attach logic: each call of <see cref="GenerateAsync"/> runs
/// the next scripted attempt.
/// </summary>
internal sealed class FakeRequestGrain(params Func<IReadOnlyList<int>?, CancellationToken, IAsyncEnumerable<TokenChunk>>[] attempts) : IRequestChannel
{
    private int _calls;

    public List<IReadOnlyList<int>?> ReceivedTokens { get; } = [];

    public int CancelCalls;

    public IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens, CancellationToken cancellationToken)
    {
        ReceivedTokens.Add(receivedTokens?.ToArray());
        var attempt = attempts[Math.Min(_calls++, attempts.Length - 1)];
        return attempt(receivedTokens, cancellationToken);
    }

    public Task CancelAsync()
    {
        Interlocked.Increment(ref CancelCalls);
        return Task.CompletedTask;
    }

    public static TokenChunk Chunk(int offset, params int[] tokens) =>
        new() { RequestId = "r", Offset = offset, TokenIds = tokens, Text = string.Concat(tokens.Select(t => $"<{t}>")) };

    /// <summary>Yields <paramref name="chunks"/>, then either ends, throws, or hangs until cancelled.</summary>
    public static async IAsyncEnumerable<TokenChunk> Script(IEnumerable<TokenChunk> chunks, Exception? fail = null, bool hang = false,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var c in chunks)
        {
            await Task.Yield();
            yield return c;
        }
        if (fail is not null)
        {
            throw fail;
        }
        if (hang)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
    }
}
