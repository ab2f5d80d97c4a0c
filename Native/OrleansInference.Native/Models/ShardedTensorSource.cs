using System.Text.Json;

namespace OrleansInference.Native.Models;

/// <summary>
/// Tensors spread over several safetensors files, as listed by <c>model.safetensors.index.json</c>'s
/// <c>weight_map</c> (tensor name → file name relative to the index).
/// </summary>
public sealed class ShardedTensorSource : ITensorSource
{
    private readonly List<SafeTensorsFile> _files;
    private readonly Dictionary<string, SafeTensorsFile> _byTensor;

    private ShardedTensorSource(List<SafeTensorsFile> files, Dictionary<string, SafeTensorsFile> byTensor)
    {
        _files = files;
        _byTensor = byTensor;
    }

    /// <summary>The shards opened.</summary>
    public IReadOnlyList<SafeTensorsFile> Files => _files;

    /// <inheritdoc />
    public IEnumerable<string> Names => _byTensor.Keys;

    /// <summary>Reads the index and maps every shard it names; each mapped tensor must be in its shard.</summary>
    public static ShardedTensorSource Open(string indexPath)
    {
        Dictionary<string, string> weightMap = ReadWeightMap(indexPath);
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var files = new List<SafeTensorsFile>();
        var opened = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        var byTensor = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var (tensor, fileName) in weightMap)
            {
                if (fileName.Contains("..", StringComparison.Ordinal) || System.IO.Path.IsPathRooted(fileName))
                {
                    throw new ModelLoadException($"{indexPath}: weight_map entry '{tensor}' points outside the model directory ('{fileName}').");
                }

                if (!opened.TryGetValue(fileName, out var file))
                {
                    string path = System.IO.Path.Combine(directory, fileName);
                    if (!File.Exists(path))
                    {
                        throw new ModelLoadException($"{indexPath}: shard '{fileName}' (holding '{tensor}') not found at {path}.");
                    }

                    file = SafeTensorsFile.Open(path);
                    files.Add(file);
                    opened.Add(fileName, file);
                }

                if (file.TryGet(tensor) is null)
                {
                    throw new ModelLoadException($"{indexPath}: tensor '{tensor}' is mapped to {file.Path}, which does not contain it.");
                }

                byTensor.Add(tensor, file);
            }
        }
        catch
        {
            foreach (var f in files)
            {
                f.Dispose();
            }

            throw;
        }

        return new ShardedTensorSource(files, byTensor);
    }

    /// <inheritdoc />
    public ITensor? TryGet(string name) => _byTensor.TryGetValue(name, out var file) ? file.TryGet(name) : null;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Dispose();
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException($"{indexPath}: missing 'weight_map' object.");
            }

            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                result[p.Name] = p.Value.ValueKind == JsonValueKind.String
                    ? p.Value.GetString()!
                    : throw new ModelLoadException($"{indexPath}: weight_map entry '{p.Name}' is not a file name.");
            }

            return result;
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{indexPath}: invalid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{indexPath}: cannot read: {e.Message}", e);
        }
    }
}
