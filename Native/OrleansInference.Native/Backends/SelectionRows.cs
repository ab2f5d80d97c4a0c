namespace OrleansInference.Native.Backends;

/// <summary>Checks shared by the <see cref="ITokenSelectingBackend"/> implementations.</summary>
internal static class SelectionRows
{
    /// <summary>Logits rows of a selecting step (one per <see cref="LogitsMode.Last"/> chunk); throws on a mismatch.</summary>
    public static int Count(IReadOnlyList<SequenceChunk> chunks, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        var count = 0;
        for (var c = 0; c < chunks.Count; c++)
        {
            switch (chunks[c].Logits)
            {
                case LogitsMode.Last:
                    count++;
                    break;
                case LogitsMode.None:
                    break;
                default:
                    throw new ArgumentException($"Chunk {c}: a selecting step takes only Last or None logits, not {chunks[c].Logits}.", nameof(chunks));
            }
        }

        if (rows.Length != count)
        {
            throw new ArgumentException($"The step has {count} logits rows but {rows.Length} sampling rows.", nameof(rows));
        }

        if (tokenIds.Length < count)
        {
            throw new ArgumentException($"The step has {count} logits rows; the id buffer holds {tokenIds.Length}.", nameof(tokenIds));
        }

        return count;
    }
}
