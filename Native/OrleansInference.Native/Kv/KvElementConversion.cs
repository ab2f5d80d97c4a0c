using System.Runtime.InteropServices;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Kv;

/// <summary>Converts block bytes between the element types backends store (fp32 on CPU, bf16 on CUDA).</summary>
internal static class KvElementConversion
{
    /// <summary>Converts <paramref name="source"/> (of <paramref name="from"/>) into <paramref name="destination"/> (of <paramref name="to"/>).</summary>
    public static void Convert(ReadOnlySpan<byte> source, DType from, Span<byte> destination, DType to)
    {
        if (from == to)
        {
            source.CopyTo(destination);
            return;
        }
        if (from == DType.F32 && to == DType.BF16)
        {
            var f = MemoryMarshal.Cast<byte, uint>(source);
            var b = MemoryMarshal.Cast<byte, ushort>(destination);
            for (var i = 0; i < f.Length; i++)
            {
                b[i] = ToBFloat16(f[i]);
            }
            return;
        }
        if (from == DType.BF16 && to == DType.F32)
        {
            var b = MemoryMarshal.Cast<byte, ushort>(source);
            var f = MemoryMarshal.Cast<byte, uint>(destination);
            for (var i = 0; i < b.Length; i++)
            {
                f[i] = (uint)b[i] << 16;
            }
            return;
        }
        throw new InvalidDataException($"Cannot convert KV elements from {from} to {to}.");
    }

    // Round to nearest even; NaN stays NaN (quiet).
    private static ushort ToBFloat16(uint bits)
    {
        if ((bits & 0x7fffffffu) > 0x7f800000u)
        {
            return (ushort)((bits >> 16) | 0x40);
        }
        var rounding = 0x7fffu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
