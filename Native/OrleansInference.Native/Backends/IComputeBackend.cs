using OrleansInference.Native.Models;

namespace OrleansInference.Native.Backends;

/// <summary>Which logits a chunk wants back.</summary>
public enum LogitsMode
{
    /// <summary>None (a prefill chunk that does not end the prompt).</summary>
    None,

    /// <summary>Only after the chunk's last token (decode, or the last prefill chunk).</summary>
    Last,

    /// <summary>After every token of the chunk (scoring).</summary>
    All,
}

/// <summary>
/// One sequence's part of a step: new tokens at consecutive positions starting at <see cref="StartPosition"/>. The
/// tokens before it are already in the pages of <see cref="BlockTable"/>; the backend writes K/V of the new tokens
/// into the same table (block <c>p / blockSize</c>, slot <c>p % blockSize</c>) and attends causally over all of them.
/// </summary>
public readonly record struct SequenceChunk(int[] Tokens, int StartPosition, int[] BlockTable, LogitsMode Logits);

/// <summary>The geometry of a backend's KV pool.</summary>
/// <param name="NumBlocks">Blocks in the pool.</param>
/// <param name="BlockSize">Tokens per block.</param>
/// <param name="NumLayers">Layers.</param>
/// <param name="NumKvHeads">KV heads stored (per shard).</param>
/// <param name="HeadDim">Head width.</param>
/// <param name="ElementType">Stored element type (F32 on CPU, BF16 on CUDA).</param>
public sealed record KvLayout(int NumBlocks, int BlockSize, int NumLayers, int NumKvHeads, int HeadDim, DType ElementType)
{
    /// <summary>Bytes per element.</summary>
    public int ElementSize => ElementType == DType.F32 ? 4 : 2;

    /// <summary>Bytes of one block over all layers, K and V: the unit of <see cref="IComputeBackend.ReadBlock"/>.</summary>
    public long BlockBytes => 2L * NumLayers * BlockSize * NumKvHeads * HeadDim * ElementSize;
}

/// <summary>
/// A device that runs the model's forward pass over a paged KV pool it owns. Called from the engine thread only.
/// </summary>
public interface IComputeBackend : IDisposable
{
    /// <summary>E.g. <c>cpu</c>, <c>cuda:0</c>.</summary>
    string Name { get; }

    /// <summary>The model it computes.</summary>
    ModelConfig Model { get; }

    /// <summary>KV pool geometry.</summary>
    KvLayout Layout { get; }

    /// <summary>
    /// Runs one step over all chunks. Writes logits rows to <paramref name="logits"/> in chunk order (one row for
    /// <see cref="LogitsMode.Last"/>, one per token for <see cref="LogitsMode.All"/>), each row <c>VocabSize</c> floats.
    /// </summary>
    void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits);

    /// <summary>Copies whole blocks (copy-on-write when a shared partial block is appended to).</summary>
    void CopyBlock(int source, int destination);

    /// <summary>Copies one block (all layers, K then V per layer) to host bytes, in <see cref="KvLayout.ElementType"/>.</summary>
    void ReadBlock(int block, Span<byte> destination);

    /// <summary>Overwrites one block from host bytes laid out as <see cref="ReadBlock"/> writes them.</summary>
    void WriteBlock(int block, ReadOnlySpan<byte> source);
}
