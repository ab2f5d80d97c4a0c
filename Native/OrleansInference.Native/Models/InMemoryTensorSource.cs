namespace OrleansInference.Native.Models;

/// <summary>A float32 tensor held in a managed array (generated models, tests).</summary>
public sealed class InMemoryTensor : ITensor
{
    private readonly float[] _data;

    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    public InMemoryTensor(string name, float[] data, long[] shape, string origin)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count *= d;
        }

        if (count != data.Length)
        {
            throw new ArgumentException($"Tensor '{name}': shape [{string.Join(", ", shape)}] holds {count} elements but data has {data.Length}.", nameof(data));
        }

        Name = name;
        _data = data;
        Shape = shape;
        Origin = origin;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public DType DType => DType.F32;

    /// <inheritdoc />
    public IReadOnlyList<long> Shape { get; }

    /// <inheritdoc />
    public string Origin { get; }

    /// <inheritdoc />
    public long ElementCount => _data.Length;

    /// <summary>The values (read-only by convention).</summary>
    public ReadOnlySpan<float> Data => _data;

    /// <inheritdoc />
    public void CopyToFloat32(Span<float> destination)
    {
        CheckLength(destination.Length);
        _data.CopyTo(destination);
    }

    /// <inheritdoc />
    public void CopyToBFloat16(Span<ushort> destination)
    {
        CheckLength(destination.Length);
        DTypeConversion.Float32ToBFloat16(_data, destination);
    }

    private void CheckLength(int length)
    {
        if (length != _data.Length)
        {
            throw new ArgumentException($"{Origin}: tensor '{Name}' has {_data.Length} elements; destination has {length}.");
        }
    }
}

/// <summary>Tensors held in memory, by name.</summary>
public sealed class InMemoryTensorSource : ITensorSource
{
    private readonly Dictionary<string, InMemoryTensor> _tensors = new(StringComparer.Ordinal);

    /// <summary>Creates the source from its tensors.</summary>
    public InMemoryTensorSource(IEnumerable<InMemoryTensor> tensors)
    {
        foreach (var t in tensors)
        {
            _tensors.Add(t.Name, t);
        }
    }

    /// <inheritdoc />
    public IEnumerable<string> Names => _tensors.Keys;

    /// <inheritdoc />
    public ITensor? TryGet(string name) => _tensors.GetValueOrDefault(name);

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
