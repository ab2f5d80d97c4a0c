using System.Text;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Models;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly TestModelDirectory _dir = TestModelDirectory.Empty();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ReadsShapesDtypesAndValuesOfEachFormat()
    {
        float[] values = [0f, 1f, -2.5f, 0.333333343f, 65504f, 1e-3f];
        string path = _dir.FilePath("a.safetensors");
        SafeTensorsWriter.Write(path, [
            new TensorToWrite("f32", DType.F32, [2, 3], values),
            new TensorToWrite("f16", DType.F16, [6], values),
            new TensorToWrite("bf16", DType.BF16, [3, 2], values),
        ]);

        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(["bf16", "f16", "f32"], file.Names.Order());
        Assert.Equal("pt", file.Metadata["format"]);

        var f32 = file.TryGet("f32")!;
        Assert.Equal(DType.F32, f32.DType);
        Assert.Equal([2L, 3L], f32.Shape);
        Assert.Equal(6, f32.ElementCount);
        Assert.Equal(path, f32.Origin);
        Assert.Equal(values, ToFloat(f32));

        // Expected values computed independently: half via System.Half, bf16 as the top 16 bits of the float.
        Assert.Equal(values.Select(v => (float)(Half)v), ToFloat(file.TryGet("f16")!));
        Assert.Equal(values.Select(v => BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(v) & 0xFFFF0000)), ToFloat(file.TryGet("bf16")!));
        Assert.Null(file.TryGet("absent"));
    }

    [Fact]
    public void ConvertsToBFloat16WithRoundToNearestEven()
    {
        float one = 1f, ulp = MathF.Pow(2, -7); // bf16 spacing at 1.0
        float[] values =
        [
            one + (ulp / 2),                      // tie → even (1.0)
            one + (ulp * 1.5f),                   // tie → even (1 + 2 ulp)
            one + (ulp / 2) + MathF.Pow(2, -20),  // above the tie → up
            -one - (ulp / 2) - MathF.Pow(2, -20), // symmetric for negatives
            float.PositiveInfinity,
            -0f,
            float.MaxValue,                       // rounds up to infinity
        ];
        string path = _dir.FilePath("r.safetensors");
        SafeTensorsWriter.Write(path, [new TensorToWrite("x", DType.F32, [values.Length], values)]);
        using var file = SafeTensorsFile.Open(path);
        var bits = new ushort[values.Length];
        file.TryGet("x")!.CopyToBFloat16(bits);
        Assert.Equal(new ushort[] { 0x3F80, 0x3F82, 0x3F81, 0xBF81, 0x7F80, 0x8000, 0x7F80 }, bits);
    }

    [Fact]
    public void VectorisedConversionsMatchElementwise()
    {
        var rng = new SplitMix64(3);
        var values = new float[1000 + 5];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(rng.NextNormal() * Math.Pow(10, (int)(rng.Next() % 8) - 4));
        }

        values[7] = float.NaN;
        var bits = new ushort[values.Length];
        DTypeConversion.Float32ToBFloat16(values, bits);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(DTypeConversion.RoundToBFloat16(BitConverter.SingleToUInt32Bits(values[i])), bits[i]);
        }

        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)bits[7] << 16)));

        var back = new float[bits.Length];
        DTypeConversion.BFloat16ToFloat32(bits, back);
        for (int i = 0; i < bits.Length; i++)
        {
            Assert.Equal((uint)bits[i] << 16, BitConverter.SingleToUInt32Bits(back[i]));
            if (!float.IsNaN(values[i]))
            {
                // Round to nearest: within half a bf16 ulp (8 mantissa bits) of the input.
                Assert.True(Math.Abs(back[i] - values[i]) <= Math.Abs(values[i]) * MathF.Pow(2, -8) + 1e-38f);
            }
        }
    }

    [Fact]
    public void HalfToBFloat16GoesThroughExactFloat()
    {
        float[] values = [1f, 1.00390625f, -3.14f, 6.1e-5f];
        string path = _dir.FilePath("h.safetensors");
        SafeTensorsWriter.Write(path, [new TensorToWrite("h", DType.F16, [4], values)]);
        using var file = SafeTensorsFile.Open(path);
        var bits = new ushort[4];
        file.TryGet("h")!.CopyToBFloat16(bits);
        Assert.Equal(values.Select(v => DTypeConversion.RoundToBFloat16(BitConverter.SingleToUInt32Bits((float)(Half)v))), bits);
    }

    [Fact]
    public void RejectsUnsupportedDtypeNamingFileTensorAndType()
    {
        string path = _dir.FilePath("i.safetensors");
        SafeTensorsWriter.WriteRaw(path, """{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", new byte[16]);
        var e = Assert.Throws<ModelLoadException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("'ids'", e.Message);
        Assert.Contains("I64", e.Message);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs 12 bytes but data_offsets span 8")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", 8, "outside the data section")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2]}}""", 8, "needs dtype, shape and data_offsets")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}""", 8, "invalid shape")]
    [InlineData("""{"w": """, 8, "invalid header JSON")]
    public void RejectsInconsistentHeaders(string header, int dataBytes, string expected)
    {
        string path = _dir.FilePath("bad.safetensors");
        SafeTensorsWriter.WriteRaw(path, header, new byte[dataBytes]);
        var e = Assert.Throws<ModelLoadException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void RejectsHeaderLongerThanFileAndTinyFiles()
    {
        string path = _dir.FilePath("long.safetensors");
        SafeTensorsWriter.WriteRaw(path, "{}", [], declaredHeaderLength: 1 << 20);
        Assert.Contains("exceeds the file", Assert.Throws<ModelLoadException>(() => SafeTensorsFile.Open(path)).Message);

        string tiny = _dir.FilePath("tiny.safetensors");
        File.WriteAllBytes(tiny, Encoding.ASCII.GetBytes("abc"));
        Assert.Contains(tiny, Assert.Throws<ModelLoadException>(() => SafeTensorsFile.Open(tiny)).Message);

        string missing = _dir.FilePath("missing.safetensors");
        Assert.Contains(missing, Assert.Throws<ModelLoadException>(() => SafeTensorsFile.Open(missing)).Message);
    }

    [Fact]
    public void ShardedIndexMapsTensorsToTheirFiles()
    {
        SafeTensorsWriter.Write(_dir.FilePath("model-00001-of-00002.safetensors"), [new TensorToWrite("a", DType.BF16, [2], [1f, 2f])]);
        SafeTensorsWriter.Write(_dir.FilePath("model-00002-of-00002.safetensors"), [
            new TensorToWrite("b", DType.F16, [1, 2], [3f, 4f]),
            new TensorToWrite("c", DType.F32, [1], [5f]),
        ]);
        string index = _dir.FilePath("model.safetensors.index.json");
        File.WriteAllText(index, """
            {"metadata": {"total_size": 12},
             "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors",
                            "c": "model-00002-of-00002.safetensors"}}
            """);

        using var source = ShardedTensorSource.Open(index);
        Assert.Equal(2, source.Files.Count);
        Assert.Equal(["a", "b", "c"], source.Names.Order());
        Assert.Equal([1f, 2f], ToFloat(source.TryGet("a")!));
        Assert.Equal([3f, 4f], ToFloat(source.TryGet("b")!));
        Assert.Equal([5f], ToFloat(source.TryGet("c")!));
        Assert.EndsWith("model-00002-of-00002.safetensors", source.TryGet("b")!.Origin);
        Assert.Null(source.TryGet("d"));
    }

    [Fact]
    public void ShardedIndexErrorsNameTheIndexShardAndTensor()
    {
        SafeTensorsWriter.Write(_dir.FilePath("s1.safetensors"), [new TensorToWrite("a", DType.F32, [1], [1f])]);
        string index = _dir.FilePath("model.safetensors.index.json");

        File.WriteAllText(index, """{"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}}""");
        var missingShard = Assert.Throws<ModelLoadException>(() => ShardedTensorSource.Open(index));
        Assert.Contains(index, missingShard.Message);
        Assert.Contains("s2.safetensors", missingShard.Message);
        Assert.Contains("'b'", missingShard.Message);

        File.WriteAllText(index, """{"weight_map": {"a": "s1.safetensors", "z": "s1.safetensors"}}""");
        var wrongShard = Assert.Throws<ModelLoadException>(() => ShardedTensorSource.Open(index));
        Assert.Contains("'z'", wrongShard.Message);
        Assert.Contains("s1.safetensors", wrongShard.Message);

        File.WriteAllText(index, """{"metadata": {}}""");
        Assert.Contains("weight_map", Assert.Throws<ModelLoadException>(() => ShardedTensorSource.Open(index)).Message);

        File.WriteAllText(index, """{"weight_map": {"a": "../elsewhere.safetensors"}}""");
        Assert.Contains("outside the model directory", Assert.Throws<ModelLoadException>(() => ShardedTensorSource.Open(index)).Message);
    }

    [Fact]
    public void DisposedFileRefusesAccess()
    {
        string path = _dir.FilePath("d.safetensors");
        SafeTensorsWriter.Write(path, [new TensorToWrite("a", DType.F32, [1], [1f])]);
        var file = SafeTensorsFile.Open(path);
        var t = file.TryGet("a")!;
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.TryGet("a"));
        Assert.Throws<ObjectDisposedException>(() => t.CopyToFloat32(new float[1]));
    }

    private static float[] ToFloat(ITensor t)
    {
        var f = new float[t.ElementCount];
        t.CopyToFloat32(f);
        return f;
    }
}
