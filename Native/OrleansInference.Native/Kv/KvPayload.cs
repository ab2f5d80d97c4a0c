using OrleansInference.Native.Models;

namespace OrleansInference.Native.Kv;

/// <summary>A parsed KV transfer payload: the blocks of one cached prefix and everything needed to check them.</summary>
/// <param name="ModelId">Model the K/V were computed with.</param>
/// <param name="CacheSalt">Salt mixed into the hashes (null when none).</param>
/// <param name="BlockSize">Tokens per block.</param>
/// <param name="HashVersion"><see cref="BlockHasher.Version"/> of the exporter.</param>
/// <param name="NumLayers">Layers.</param>
/// <param name="NumKvHeads">KV heads per block.</param>
/// <param name="HeadDim">Head width.</param>
/// <param name="ElementType">Element type of <paramref name="BlockData"/>.</param>
/// <param name="TokenIds">The prefix's tokens (whole blocks).</param>
/// <param name="BlockHashes">Chained hash of each block.</param>
/// <param name="BlockData">Each block's bytes, one after another, as <see cref="Backends.IComputeBackend.ReadBlock"/> writes them.</param>
internal sealed record KvPayload(
    string ModelId,
    string? CacheSalt,
    int BlockSize,
    int HashVersion,
    int NumLayers,
    int NumKvHeads,
    int HeadDim,
    DType ElementType,
    int[] TokenIds,
    ulong[] BlockHashes,
    ReadOnlyMemory<byte> BlockData)
{
    public int NumBlocks => BlockHashes.Length;

    public static int ElementSize(DType t) => t == DType.F32 ? 4 : 2;

    /// <summary>Bytes of one block in <see cref="ElementType"/>.</summary>
    public long BlockBytes => 2L * NumLayers * BlockSize * NumKvHeads * HeadDim * ElementSize(ElementType);

    public ReadOnlySpan<byte> Block(int i) => BlockData.Span.Slice(checked((int)(i * BlockBytes)), (int)BlockBytes);
}
