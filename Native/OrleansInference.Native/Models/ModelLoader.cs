namespace OrleansInference.Native.Models;

/// <summary>
/// Opens a model for serving. Supported: Hugging Face directories of the Llama family — <c>model_type</c>
/// <c>llama</c>, <c>mistral</c> (no active sliding window) and <c>qwen2</c> — with SiLU MLPs and default, linear or
/// llama3 RoPE; weights in safetensors (<c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c>), stored as F32, F16 or BF16 and memory-mapped, never read whole. Every tensor
/// the forward pass needs is checked at load (presence and shape). <c>"builtin"</c> (or <c>"builtin:SEED"</c>) gives
/// the generated <see cref="BuiltinModel"/>. Problems raise <see cref="ModelLoadException"/> naming the file, tensor
/// and shapes involved.
/// </summary>
public static class ModelLoader
{
    /// <summary>The config file name.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>The shard index file name.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>The single-file weights name.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>
    /// Loads <paramref name="pathOrBuiltin"/>: a model directory (or a file inside it), or <c>builtin</c>.
    /// <paramref name="modelId"/> defaults to the directory name or <c>builtin</c>.
    /// </summary>
    public static LoadedModel Load(string pathOrBuiltin, string? modelId = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrBuiltin);
        if (TryParseBuiltin(pathOrBuiltin, out int seed))
        {
            return BuiltinModel.Create(seed, string.IsNullOrWhiteSpace(modelId) ? BuiltinModel.Id : modelId);
        }

        string directory = ResolveDirectory(pathOrBuiltin);
        var config = ModelConfigParser.ParseFile(Path.Combine(directory, ConfigFileName));
        var (tensors, origin) = OpenTensors(directory);
        try
        {
            ModelTensorLayout.Validate(config, tensors, origin);
        }
        catch
        {
            tensors.Dispose();
            throw;
        }

        string id = string.IsNullOrWhiteSpace(modelId) ? new DirectoryInfo(directory).Name : modelId;
        return new LoadedModel(id, config, tensors, () => TokenizerBinding.ForDirectory(directory), directory);
    }

    private static bool TryParseBuiltin(string value, out int seed)
    {
        seed = 1234;
        if (string.Equals(value, BuiltinModel.Id, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        const string prefix = BuiltinModel.Id + ":";
        if (value.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && !Directory.Exists(value))
        {
            return int.TryParse(value.AsSpan(prefix.Length), out seed)
                ? true
                : throw new ModelLoadException($"'{value}': the built-in model takes an integer seed, e.g. builtin:42.");
        }

        return false;
    }

    private static string ResolveDirectory(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return full;
        }

        if (File.Exists(full))
        {
            return Path.GetDirectoryName(full)!;
        }

        throw new ModelLoadException($"{full}: model path not found (expected a Hugging Face model directory or 'builtin').");
    }

    private static (ITensorSource Tensors, string Origin) OpenTensors(string directory)
    {
        string index = Path.Combine(directory, IndexFileName);
        if (File.Exists(index))
        {
            return (ShardedTensorSource.Open(index), index);
        }

        string single = Path.Combine(directory, SingleFileName);
        if (File.Exists(single))
        {
            return (SafeTensorsFile.Open(single), single);
        }

        var candidates = Directory.GetFiles(directory, "*.safetensors");
        if (candidates.Length == 1)
        {
            return (SafeTensorsFile.Open(candidates[0]), candidates[0]);
        }

        string why = candidates.Length > 1
            ? $"{candidates.Length} .safetensors files but no {IndexFileName} to say which tensor is where"
            : File.Exists(Path.Combine(directory, "pytorch_model.bin"))
                ? "only pytorch_model.bin, which is not supported (convert to safetensors)"
                : "no .safetensors weights";
        throw new ModelLoadException($"{directory}: {why}.");
    }
}
