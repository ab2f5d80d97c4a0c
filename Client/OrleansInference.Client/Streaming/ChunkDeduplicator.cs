using OrleansInference.Grains;

namespace OrleansInference.Client.Streaming;

/// <summary>
/// Keeps a stream exactly-once across re-attachments: tracks, per sample, how many tokens the caller has and drops
/// or trims chunks that repeat them (by <see cref="TokenChunk.Offset"/>).
/// </summary>
internal sealed class ChunkDeduplicator
{
    private readonly List<int> _received = [];
    private readonly HashSet<int> _finished = [];
    private bool _usageSeen;

    /// <summary>Tokens delivered per sample so far (what a re-attachment passes as received tokens).</summary>
    public IReadOnlyList<int> Received => _received;

    /// <summary>Whether any chunk has been delivered.</summary>
    public bool Started { get; private set; }

    /// <summary>
    /// The part of <paramref name="chunk"/> that is new, or null when it is all a repeat. A chunk that overlaps what
    /// was delivered keeps only its new tokens; its text cannot be split by token and is kept whole, which a
    /// request grain avoids by resuming exactly at the received offset.
    /// </summary>
    public TokenChunk? Accept(TokenChunk chunk)
    {
        var index = chunk.Index;
        if (index < 0)
        {
            return null;
        }
        while (_received.Count <= index)
        {
            _received.Add(0);
        }
        if (_finished.Contains(index))
        {
            return TakeUsageOnly(chunk);
        }
        var have = _received[index];
        var count = chunk.TokenIds.Count;
        var skip = have - chunk.Offset;
        if (skip > 0)
        {
            if (skip >= count)
            {
                if (chunk.FinishReason is null && (chunk.Usage is null || _usageSeen))
                {
                    return null;
                }
                chunk = chunk with { Offset = have, TokenIds = [], Text = count == 0 ? chunk.Text : "", Logprobs = null };
            }
            else
            {
                chunk = chunk with
                {
                    Offset = have,
                    TokenIds = chunk.TokenIds.Skip(skip).ToArray(),
                    Logprobs = chunk.Logprobs?.Skip(skip).ToArray(),
                };
            }
        }
        _received[index] = Math.Max(have, chunk.Offset + chunk.TokenIds.Count);
        if (chunk.FinishReason is not null)
        {
            _finished.Add(index);
        }
        if (chunk.Usage is not null)
        {
            if (_usageSeen)
            {
                chunk = chunk with { Usage = null };
            }
            _usageSeen = true;
        }
        Started = true;
        return chunk;
    }

    private TokenChunk? TakeUsageOnly(TokenChunk chunk)
    {
        if (chunk.Usage is null || _usageSeen)
        {
            return null;
        }
        _usageSeen = true;
        return chunk with { Offset = _received[chunk.Index], TokenIds = [], Text = "", Logprobs = null, FinishReason = null };
    }
}
