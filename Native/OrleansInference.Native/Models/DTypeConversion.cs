using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace OrleansInference.Native.Models;

/// <summary>Element conversions between the stored float formats (F32, F16, BF16).</summary>
public static class DTypeConversion
{
    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int SizeOf(DType type) => type == DType.F32 ? 4 : 2;

    /// <summary>Converts raw little-endian elements of <paramref name="type"/> to float32.</summary>
    public static void ToFloat32(DType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (type)
        {
            case DType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case DType.F16:
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case DType.BF16:
                BFloat16ToFloat32(MemoryMarshal.Cast<byte, ushort>(source), destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown dtype.");
        }
    }

    /// <summary>Converts raw little-endian elements of <paramref name="type"/> to bfloat16 bits (round to nearest even).</summary>
    public static void ToBFloat16(DType type, ReadOnlySpan<byte> source, Span<ushort> destination)
    {
        switch (type)
        {
            case DType.BF16:
                MemoryMarshal.Cast<byte, ushort>(source).CopyTo(destination);
                break;
            case DType.F32:
                Float32ToBFloat16(MemoryMarshal.Cast<byte, float>(source), destination);
                break;
            case DType.F16:
                // Every half is exactly representable as float, so rounding happens once, at the float→bf16 step.
                Span<float> tmp = stackalloc float[256];
                var halves = MemoryMarshal.Cast<byte, Half>(source);
                for (int i = 0; i < halves.Length; i += tmp.Length)
                {
                    int n = Math.Min(tmp.Length, halves.Length - i);
                    TensorPrimitives.ConvertToSingle(halves.Slice(i, n), tmp[..n]);
                    Float32ToBFloat16(tmp[..n], destination.Slice(i, n));
                }
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown dtype.");
        }
    }

    /// <summary>Widens bfloat16 bits to float32 (exact).</summary>
    public static void BFloat16ToFloat32(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        }

        var dst = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var srcV = MemoryMarshal.Cast<ushort, Vector<ushort>>(source);
            for (int v = 0; v < srcV.Length; v++)
            {
                Vector.Widen(srcV[v], out Vector<uint> lo, out Vector<uint> hi);
                int o = v * Vector<ushort>.Count;
                (lo << 16).CopyTo(dst.Slice(o));
                (hi << 16).CopyTo(dst.Slice(o + Vector<uint>.Count));
            }

            i = srcV.Length * Vector<ushort>.Count;
        }

        for (; i < source.Length; i++)
        {
            dst[i] = (uint)source[i] << 16;
        }
    }

    /// <summary>Narrows float32 to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN.</summary>
    public static void Float32ToBFloat16(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        }

        var src = MemoryMarshal.Cast<float, uint>(source);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            int width = Vector<uint>.Count;
            var bias = new Vector<uint>(0x7FFF);
            var one = Vector<uint>.One;
            var expMask = new Vector<uint>(0x7F800000);
            var mantMask = new Vector<uint>(0x007FFFFF);
            var quiet = new Vector<uint>(0x00400000);
            for (; i + 2 * width <= src.Length; i += 2 * width)
            {
                var a = Round(new Vector<uint>(src.Slice(i)));
                var b = Round(new Vector<uint>(src.Slice(i + width)));
                Vector.Narrow(a, b).CopyTo(destination.Slice(i));
            }

            Vector<uint> Round(Vector<uint> bits)
            {
                var isNan = Vector.BitwiseAnd(
                    Vector.Equals(bits & expMask, expMask),
                    Vector.GreaterThan(bits & mantMask, Vector<uint>.Zero));
                var rounded = (bits + bias + ((bits >> 16) & one)) >> 16;
                var nan = (bits | quiet) >> 16;
                return Vector.ConditionalSelect(isNan, nan, rounded);
            }
        }

        for (; i < src.Length; i++)
        {
            destination[i] = RoundToBFloat16(src[i]);
        }
    }

    /// <summary>One float32 (as bits) to bfloat16 bits, round to nearest even.</summary>
    public static ushort RoundToBFloat16(uint bits)
    {
        if ((bits & 0x7F800000) == 0x7F800000 && (bits & 0x007FFFFF) != 0)
        {
            return (ushort)((bits | 0x00400000) >> 16);
        }

        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
