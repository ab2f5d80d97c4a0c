namespace OrleansInference.Native.Interop;

/// <summary>
/// Kernel parameters for <c>cuLaunchKernel</c>: each value in its own 8-byte slot (little-endian, so a 4-byte
/// parameter reads the low half), passed as the array of pointers the driver expects.
/// </summary>
internal unsafe struct KernelArgs
{
    public const int Capacity = 32;
    private fixed ulong _values[Capacity];
    private int _count;

    public readonly int Count => _count;

    public KernelArgs Ptr(ulong devicePointer) => Put(devicePointer);

    public KernelArgs Ptr(DeviceBuffer buffer, long byteOffset = 0) => Put(buffer.Pointer + (ulong)byteOffset);

    public KernelArgs Int(int value) => Put((uint)value);

    public KernelArgs Long(long value) => Put((ulong)value);

    public KernelArgs Float(float value) => Put(BitConverter.SingleToUInt32Bits(value));

    /// <summary>Writes the pointer array into <paramref name="pointers"/> (length ≥ <see cref="Count"/>).</summary>
    public void Fill(void** pointers)
    {
        fixed (ulong* v = _values)
        {
            for (int i = 0; i < _count; i++)
            {
                pointers[i] = v + i;
            }
        }
    }

    private KernelArgs Put(ulong value)
    {
        if (_count == Capacity)
        {
            throw new InvalidOperationException($"A kernel takes at most {Capacity} parameters here.");
        }

        _values[_count++] = value;
        return this;
    }
}
