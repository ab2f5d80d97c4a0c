using OrleansInference.Native.Backends;

namespace OrleansInference.Native.TensorParallel;

/// <summary>
/// Converts a KV block between the unsplit layout (<c>[layer][K|V][slot][kvHead][headDim]</c> over all KV heads, the
/// byte order of <see cref="IComputeBackend.ReadBlock"/> on one device) and the ranks' parts (the same layout over
/// each rank's KV heads). A block read from a tensor-parallel backend is thus interchangeable with one read from a
/// single-device backend of the same element type: KV transfers do not care how either side is split.
/// </summary>
internal static class KvShardInterleave
{
    /// <summary>Copies rank <paramref name="rank"/>'s part of a full block into <paramref name="block"/>.</summary>
    public static void Gather(KvLayout full, int ranks, int rank, ReadOnlySpan<byte> part, Span<byte> block)
    {
        var (rows, fullRow, partRow) = Rows(full, ranks);
        for (int r = 0; r < rows; r++)
        {
            part.Slice(r * partRow, partRow).CopyTo(block.Slice((r * fullRow) + (rank * partRow), partRow));
        }
    }

    /// <summary>Copies rank <paramref name="rank"/>'s part out of <paramref name="block"/> into <paramref name="part"/>.</summary>
    public static void Scatter(KvLayout full, int ranks, int rank, ReadOnlySpan<byte> block, Span<byte> part)
    {
        var (rows, fullRow, partRow) = Rows(full, ranks);
        for (int r = 0; r < rows; r++)
        {
            block.Slice((r * fullRow) + (rank * partRow), partRow).CopyTo(part.Slice(r * partRow, partRow));
        }
    }

    /// <summary>The layout of one rank's part.</summary>
    public static KvLayout PartLayout(KvLayout full, int ranks) => full with { NumKvHeads = full.NumKvHeads / ranks };

    /// <summary>Rows of (layer, K|V, slot), and the bytes of one row over all KV heads and over one rank's.</summary>
    private static (int Rows, int FullRow, int PartRow) Rows(KvLayout full, int ranks)
    {
        int fullRow = full.NumKvHeads * full.HeadDim * full.ElementSize;
        return (2 * full.NumLayers * full.BlockSize, fullRow, fullRow / ranks);
    }
}
