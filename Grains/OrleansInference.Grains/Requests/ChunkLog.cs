using System.Runtime.CompilerServices;

namespace OrleansInference.Grains.Requests;

/// <summary>
/// Every chunk a request produced, in order, so that any number of callers can read it from their own offsets:
/// the first caller live, a re-attaching caller from where it left off. Single-threaded (a grain's scheduler).
/// A chunk's text is attributed to its last token: a caller that already has some of a chunk's tokens gets the rest
/// with the chunk's whole text only if it lacks the last one.
/// </summary>
internal sealed class ChunkLog
{
    private readonly List<TokenChunk> _chunks = [];
    private TaskCompletionSource _changed = new();
    private Exception? _error;

    public bool IsCompleted { get; private set; }

    public int Count => _chunks.Count;

    public void Append(TokenChunk chunk)
    {
        _chunks.Add(chunk);
        Signal();
    }

    /// <summary>Ends the log; readers that reach the end then throw <paramref name="error"/> if given.</summary>
    public void Complete(Exception? error = null)
    {
        if (IsCompleted) return;
        _error = error;
        IsCompleted = true;
        Signal();
    }

    private void Signal()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource();
        changed.TrySetResult();
    }

    public async IAsyncEnumerable<TokenChunk> ReadAsync(IReadOnlyList<int>? received, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var next = 0;
        while (true)
        {
            while (next < _chunks.Count)
            {
                var chunk = Skip(_chunks[next++], received);
                if (chunk is not null)
                {
                    yield return chunk;
                }
            }
            if (IsCompleted)
            {
                if (_error is not null) throw _error;
                yield break;
            }
            await _changed.Task.WaitAsync(ct);
        }
    }

    /// <summary>The part of <paramref name="chunk"/> the caller lacks, or null when it has all of it.</summary>
    internal static TokenChunk? Skip(TokenChunk chunk, IReadOnlyList<int>? received) =>
        Skip(chunk, received is not null && chunk.Index >= 0 && chunk.Index < received.Count ? received[chunk.Index] : 0);

    /// <summary>The part of <paramref name="chunk"/> past the first <paramref name="have"/> tokens of its sample.</summary>
    internal static TokenChunk? Skip(TokenChunk chunk, int have)
    {
        var count = chunk.TokenIds.Count;
        if (have <= chunk.Offset)
        {
            return chunk;
        }
        var keep = chunk.Offset + count - have;
        if (keep <= 0)
        {
            return null;
        }
        var skip = count - keep;
        return chunk with
        {
            Offset = have,
            TokenIds = chunk.TokenIds.Skip(skip).ToArray(),
            Logprobs = chunk.Logprobs?.Skip(skip).ToArray(),
        };
    }
}
