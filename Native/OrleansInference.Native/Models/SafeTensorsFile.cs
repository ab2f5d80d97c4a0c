using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace OrleansInference.Native.Models;

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header
/// (<c>name → {dtype, shape, data_offsets}</c>), then the data. Tensors are views into the map.
/// Only F32, F16 and BF16 are accepted.
/// </summary>
public sealed unsafe class SafeTensorsFile : ITensorSource
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, MappedTensor> _tensors = new(StringComparer.Ordinal);
    private byte* _base;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>Metadata strings from the header's <c>__metadata__</c>, if any.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public IEnumerable<string> Names => _tensors.Keys;

    internal byte* DataPointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _base + DataStart;
        }
    }

    private long DataStart { get; set; }

    /// <summary>Maps the file and parses its header; any inconsistency is a <see cref="ModelLoadException"/>.</summary>
    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"{path}: file not found.");
        }

        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{path}: cannot open: {e.Message}", e);
        }

        if (length < 8)
        {
            throw new ModelLoadException($"{path}: not a safetensors file ({length} bytes; the header length alone takes 8).");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        SafeTensorsFile? file = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            file = new SafeTensorsFile(path, map, view);
            file.ParseHeader(length);
            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Dispose(file, view, map);
            throw new ModelLoadException($"{path}: cannot map: {e.Message}", e);
        }
        catch
        {
            Dispose(file, view, map);
            throw;
        }

        static void Dispose(SafeTensorsFile? f, IDisposable? v, IDisposable? m)
        {
            if (f is not null)
            {
                f.Dispose();
            }
            else
            {
                v?.Dispose();
                m?.Dispose();
            }
        }
    }

    /// <inheritdoc />
    public ITensor? TryGet(string name)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _tensors.GetValueOrDefault(name);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private void ParseHeader(long fileLength)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(_base, 8));
        if (headerLength > (ulong)(fileLength - 8) || headerLength > int.MaxValue)
        {
            throw new ModelLoadException($"{Path}: header length {headerLength} exceeds the file ({fileLength} bytes).");
        }

        DataStart = 8 + (long)headerLength;
        long dataLength = fileLength - DataStart;
        var header = new ReadOnlySpan<byte>(_base + 8, (int)headerLength);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{Path}: invalid header JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException($"{Path}: header is not a JSON object.");
            }

            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    Metadata = ReadMetadata(entry.Value);
                    continue;
                }

                var tensor = ReadEntry(entry.Name, entry.Value, dataLength);
                _tensors.Add(entry.Name, tensor);
            }
        }
    }

    private Dictionary<string, string> ReadMetadata(JsonElement value)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (value.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in value.EnumerateObject())
            {
                result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
            }
        }

        return result;
    }

    private MappedTensor ReadEntry(string name, JsonElement value, long dataLength)
    {
        ModelLoadException Bad(string what) => new($"{Path}: tensor '{name}': {what}.");

        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
        {
            throw Bad("header entry needs dtype, shape and data_offsets [begin, end]");
        }

        string dtypeName = dtypeEl.GetString()!;
        DType dtype = dtypeName switch
        {
            "F32" => DType.F32,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            _ => throw Bad($"dtype {dtypeName} is not supported (supported: F32, F16, BF16)"),
        };

        var shape = new long[shapeEl.GetArrayLength()];
        long count = 1;
        int k = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
            {
                throw Bad($"invalid shape {shapeEl.GetRawText()}");
            }

            shape[k++] = dim;
            count = checked(count * dim);
        }

        long begin = OffsetAt(offEl, 0), end = OffsetAt(offEl, 1);
        if (begin < 0 || end < begin || end > dataLength)
        {
            throw Bad($"data_offsets [{begin}, {end}] fall outside the data section ({dataLength} bytes)");
        }

        long expected = checked(count * DTypeConversion.SizeOf(dtype));
        if (end - begin != expected)
        {
            throw Bad($"shape [{string.Join(", ", shape)}] of {dtypeName} needs {expected} bytes but data_offsets span {end - begin}");
        }

        return new MappedTensor(this, name, dtype, shape, begin, end - begin);

        long OffsetAt(JsonElement arr, int i) =>
            arr[i].ValueKind == JsonValueKind.Number && arr[i].TryGetInt64(out long v) ? v : throw Bad($"invalid data_offsets {arr.GetRawText()}");
    }
}
