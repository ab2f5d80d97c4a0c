using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// The CPU backend's paged KV cache in float32. Each block is one pinned array laid out
/// <c>[layer][K|V][slot][kvHead][headDim]</c>, so a block (all layers, K then V per layer) is one contiguous copy for
/// <see cref="IComputeBackend.ReadBlock"/> / <see cref="IComputeBackend.WriteBlock"/>, and the keys of one position
/// for all KV heads are adjacent.
/// </summary>
internal sealed unsafe class CpuKvPool
{
    private readonly float[][] _blocks;
    private readonly float*[] _pointers;

    public CpuKvPool(KvLayout layout)
    {
        Layout = layout;
        RowFloats = layout.NumKvHeads * layout.HeadDim;
        BlockFloats = checked(2 * layout.NumLayers * layout.BlockSize * RowFloats);
        _blocks = new float[layout.NumBlocks][];
        _pointers = new float*[layout.NumBlocks];
        for (int b = 0; b < layout.NumBlocks; b++)
        {
            // Pinned (POH): the forward pass reads pages through raw pointers.
            _blocks[b] = GC.AllocateArray<float>(BlockFloats, pinned: true);
            _pointers[b] = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_blocks[b]));
        }
    }

    public KvLayout Layout { get; }

    /// <summary>Floats of one position's K (or V) over all KV heads.</summary>
    public int RowFloats { get; }

    /// <summary>Floats in one block.</summary>
    public int BlockFloats { get; }

    /// <summary>Start of layer <paramref name="layer"/>'s keys (<paramref name="value"/>=0) or values (1) in a block.</summary>
    public int PlaneOffset(int layer, int value) => ((layer * 2) + value) * Layout.BlockSize * RowFloats;

    /// <summary>The K (or V) row of one position: block, slot and layer resolved.</summary>
    public float* Row(int block, int slot, int layer, int value) =>
        _pointers[block] + PlaneOffset(layer, value) + (slot * RowFloats);

    /// <summary>Start of a block (no bounds check: callers validated the block table).</summary>
    public float* Block(int block) => _pointers[block];

    public void Copy(int source, int destination)
    {
        CheckBlock(source, nameof(source));
        CheckBlock(destination, nameof(destination));
        if (source != destination)
        {
            Array.Copy(_blocks[source], _blocks[destination], BlockFloats);
        }
    }

    public void Read(int block, Span<byte> destination)
    {
        CheckBlock(block, nameof(block));
        if (destination.Length < Layout.BlockBytes)
        {
            throw new ArgumentException($"A block is {Layout.BlockBytes} bytes; the destination holds {destination.Length}.", nameof(destination));
        }

        MemoryMarshal.AsBytes(_blocks[block].AsSpan()).CopyTo(destination);
    }

    public void Write(int block, ReadOnlySpan<byte> source)
    {
        CheckBlock(block, nameof(block));
        if (source.Length != Layout.BlockBytes)
        {
            throw new ArgumentException($"A block is {Layout.BlockBytes} bytes; got {source.Length}.", nameof(source));
        }

        source.CopyTo(MemoryMarshal.AsBytes(_blocks[block].AsSpan()));
    }

    private void CheckBlock(int block, string name)
    {
        if ((uint)block >= (uint)_blocks.Length)
        {
            throw new ArgumentOutOfRangeException(name, block, $"Block id must be in [0, {_blocks.Length}).");
        }
    }
}
