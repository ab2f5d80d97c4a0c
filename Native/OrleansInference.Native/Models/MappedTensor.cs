namespace OrleansInference.Native.Models;

/// <summary>
/// A tensor inside a memory-mapped safetensors file: a pointer into the map, never copied until converted.
/// </summary>
public sealed unsafe class MappedTensor : ITensor
{
    // Conversions go through spans, which are int-sized; large tensors are converted in slices.
    private const int SliceElements = 1 << 26;

    private readonly SafeTensorsFile _owner;
    private readonly long _offset;

    internal MappedTensor(SafeTensorsFile owner, string name, DType dtype, long[] shape, long offset, long byteLength)
    {
        _owner = owner;
        Name = name;
        DType = dtype;
        Shape = shape;
        _offset = offset;
        ByteLength = byteLength;
        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        ElementCount = count;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public DType DType { get; }

    /// <inheritdoc />
    public IReadOnlyList<long> Shape { get; }

    /// <inheritdoc />
    public string Origin => _owner.Path;

    /// <inheritdoc />
    public long ElementCount { get; }

    /// <summary>Bytes of the stored data.</summary>
    public long ByteLength { get; }

    /// <summary>
    /// The stored bytes in place (little-endian <see cref="DType"/> elements), for uploads that need no conversion.
    /// Valid while the file is open; throws for tensors of 2 GiB or more.
    /// </summary>
    public ReadOnlySpan<byte> RawBytes => new(_owner.DataPointer + _offset, checked((int)ByteLength));

    /// <inheritdoc />
    public void CopyToFloat32(Span<float> destination)
    {
        CheckLength(destination.Length);
        byte* data = _owner.DataPointer + _offset;
        int size = DTypeConversion.SizeOf(DType);
        for (long i = 0; i < ElementCount; i += SliceElements)
        {
            int n = (int)Math.Min(SliceElements, ElementCount - i);
            DTypeConversion.ToFloat32(DType, new ReadOnlySpan<byte>(data + i * size, n * size), destination.Slice((int)i, n));
        }
    }

    /// <inheritdoc />
    public void CopyToBFloat16(Span<ushort> destination)
    {
        CheckLength(destination.Length);
        byte* data = _owner.DataPointer + _offset;
        int size = DTypeConversion.SizeOf(DType);
        for (long i = 0; i < ElementCount; i += SliceElements)
        {
            int n = (int)Math.Min(SliceElements, ElementCount - i);
            DTypeConversion.ToBFloat16(DType, new ReadOnlySpan<byte>(data + i * size, n * size), destination.Slice((int)i, n));
        }
    }

    private void CheckLength(int length)
    {
        if (length != ElementCount)
        {
            throw new ArgumentException($"{Origin}: tensor '{Name}' has {ElementCount} elements; destination has {length}.");
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} {DType}[{string.Join(", ", Shape)}]";
}
