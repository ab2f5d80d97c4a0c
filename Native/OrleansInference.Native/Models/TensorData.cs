namespace OrleansInference.Native.Models;

/// <summary>Element types of stored tensors.</summary>
public enum DType
{
    /// <summary>IEEE float32.</summary>
    F32,

    /// <summary>IEEE float16.</summary>
    F16,

    /// <summary>bfloat16.</summary>
    BF16,
}

/// <summary>
/// A read-only view of one stored tensor (memory-mapped file or generated in memory). Valid while its
/// <see cref="ITensorSource"/> is alive.
/// </summary>
public interface ITensor
{
    /// <summary>Tensor name, e.g. <c>model.layers.0.self_attn.q_proj.weight</c>.</summary>
    string Name { get; }

    /// <summary>Element type as stored.</summary>
    DType DType { get; }

    /// <summary>Shape, row-major.</summary>
    IReadOnlyList<long> Shape { get; }

    /// <summary>Where it came from (file path or "builtin"), for error messages.</summary>
    string Origin { get; }

    /// <summary>Element count.</summary>
    long ElementCount { get; }

    /// <summary>Converts to float32 into <paramref name="destination"/> (length = element count).</summary>
    void CopyToFloat32(Span<float> destination);

    /// <summary>Converts to bfloat16 bits (round to nearest even) into <paramref name="destination"/>.</summary>
    void CopyToBFloat16(Span<ushort> destination);
}

/// <summary>All tensors of a model, by name.</summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Names present.</summary>
    IEnumerable<string> Names { get; }

    /// <summary>The tensor, or null when absent.</summary>
    ITensor? TryGet(string name);
}
