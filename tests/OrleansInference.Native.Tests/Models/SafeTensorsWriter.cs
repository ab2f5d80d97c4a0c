using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Models;

/// <summary>One tensor to write: float values stored as <see cref="DType"/>.</summary>
internal sealed record TensorToWrite(string Name, DType DType, long[] Shape, float[] Values);

/// <summary>A minimal safetensors writer for tests (the format: u64 header length, JSON header, data).</summary>
internal static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<TensorToWrite> tensors)
    {
        var header = new Dictionary<string, object> { ["__metadata__"] = new Dictionary<string, string> { ["format"] = "pt" } };
        using var data = new MemoryStream();
        foreach (var t in tensors)
        {
            long begin = data.Length;
            WriteValues(data, t.DType, t.Values);
            header[t.Name] = new Dictionary<string, object>
            {
                ["dtype"] = t.DType.ToString().ToUpperInvariant(),
                ["shape"] = t.Shape,
                ["data_offsets"] = new[] { begin, data.Length },
            };
        }

        WriteRaw(path, JsonSerializer.Serialize(header), data.ToArray());
    }

    /// <summary>Writes a file from a header string and data bytes as given (for malformed-file tests).</summary>
    public static void WriteRaw(string path, string headerJson, byte[] data, ulong? declaredHeaderLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        int padded = (header.Length + 7) & ~7; // the format pads the header with spaces to 8-byte alignment
        using var f = File.Create(path);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, declaredHeaderLength ?? (ulong)padded);
        f.Write(len);
        f.Write(header);
        for (int i = header.Length; i < padded; i++)
        {
            f.WriteByte((byte)' ');
        }

        f.Write(data);
    }

    /// <summary>Stores every tensor of <paramref name="source"/> as <paramref name="matrixType"/> (1-D ones as F32).</summary>
    public static IEnumerable<TensorToWrite> From(ITensorSource source, DType matrixType)
    {
        foreach (string name in source.Names.OrderBy(n => n, StringComparer.Ordinal))
        {
            var t = source.TryGet(name)!;
            var values = new float[t.ElementCount];
            t.CopyToFloat32(values);
            yield return new TensorToWrite(name, t.Shape.Count > 1 ? matrixType : DType.F32, t.Shape.ToArray(), values);
        }
    }

    private static void WriteValues(Stream s, DType type, float[] values)
    {
        Span<byte> b = stackalloc byte[4];
        foreach (float v in values)
        {
            switch (type)
            {
                case DType.F32:
                    BinaryPrimitives.WriteSingleLittleEndian(b, v);
                    s.Write(b[..4]);
                    break;
                case DType.F16:
                    BinaryPrimitives.WriteHalfLittleEndian(b, (Half)v);
                    s.Write(b[..2]);
                    break;
                case DType.BF16:
                    // Truncating is fine here: readers are compared on the values as stored.
                    uint bits = BitConverter.SingleToUInt32Bits(v);
                    BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)(bits >> 16));
                    s.Write(b[..2]);
                    break;
            }
        }
    }
}
