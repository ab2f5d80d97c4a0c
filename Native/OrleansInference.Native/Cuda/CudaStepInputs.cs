using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// The integer inputs of a step in one page-locked host block mirrored by one device block, so a step uploads them
/// with a single copy. Regions (in ints): token ids, positions, KV slots, logits rows, decode rows and context
/// lengths, prefill chunks (first row, start, length, table row), prefill tiles (chunk, first query), the block-table
/// width, then the block tables (one row per sequence, decode sequences first). The regions sit at fixed offsets, so
/// graphs captured once read each step's values from the same addresses.
/// </summary>
internal sealed unsafe class CudaStepInputs : IDisposable
{
    public CudaStepInputs(CudaContext context, int tokenCapacity, int sequenceCapacity, int tableWidthCapacity)
    {
        TokenCapacity = tokenCapacity;
        SequenceCapacity = sequenceCapacity;
        TileCapacity = (tokenCapacity / 64) + sequenceCapacity + 1;
        TableWidthCapacity = tableWidthCapacity;
        int o = 0;
        Tokens = o; o += tokenCapacity;
        Positions = o; o += tokenCapacity;
        Slots = o; o += tokenCapacity;
        LogitRows = o; o += tokenCapacity;
        DecodeRows = o; o += sequenceCapacity;
        DecodeContext = o; o += sequenceCapacity;
        Chunks = o; o += 4 * sequenceCapacity;
        Tiles = o; o += 2 * TileCapacity;
        TableStride = o; o += 4;
        Tables = o; o += checked(sequenceCapacity * tableWidthCapacity);
        TotalInts = o;
        Host = context.AllocatePinned(TotalInts * 4L);
        try
        {
            Device = context.Allocate(TotalInts * 4L);
        }
        catch
        {
            Host.Dispose();
            throw;
        }
    }

    public int TokenCapacity { get; }

    public int SequenceCapacity { get; }

    public int TileCapacity { get; }

    public int TableWidthCapacity { get; }

    public int Tokens { get; }

    public int Positions { get; }

    public int Slots { get; }

    public int LogitRows { get; }

    public int DecodeRows { get; }

    public int DecodeContext { get; }

    public int Chunks { get; }

    public int Tiles { get; }

    public int TableStride { get; }

    public int Tables { get; }

    public int TotalInts { get; }

    public PinnedHostBuffer Host { get; }

    public DeviceBuffer Device { get; }

    /// <summary>The host mirror.</summary>
    public int* H => (int*)Host.Pointer;

    /// <summary>Device address of the region at <paramref name="offset"/> ints.</summary>
    public ulong D(int offset) => Device.Pointer + ((ulong)offset * 4);

    /// <summary>Copies everything up to the end of the first <paramref name="tableRows"/> table rows of width <paramref name="width"/>.</summary>
    public void Upload(CudaContext context, int tableRows, int width, CudaStream stream)
    {
        H[TableStride] = width;
        long ints = Tables + ((long)tableRows * width);
        context.CopyToDevice(Device.Pointer, new ReadOnlySpan<int>(H, (int)ints), stream);
    }

    public void Dispose()
    {
        Device.Dispose();
        Host.Dispose();
    }
}
