using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Models;

/// <summary>A model ready to serve: its config, its tensors (mapped or in memory) and its tokenizer.</summary>
public sealed class LoadedModel : IDisposable
{
    private readonly Lazy<ITextTokenizer> _tokenizer;

    /// <summary>Creates a loaded model; it owns <paramref name="tensors"/> and disposes them.</summary>
    public LoadedModel(string id, ModelConfig config, ITensorSource tensors, ITextTokenizer tokenizer, string? directory)
        : this(id, config, tensors, () => tokenizer, directory)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
    }

    internal LoadedModel(string id, ModelConfig config, ITensorSource tensors, Func<ITextTokenizer> tokenizer, string? directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        Id = id;
        Config = config;
        Tensors = tensors;
        Directory = directory;
        _tokenizer = new Lazy<ITextTokenizer>(tokenizer, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The name it is served under.</summary>
    public string Id { get; }

    /// <summary>Architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>Weights by Hugging Face name.</summary>
    public ITensorSource Tensors { get; }

    /// <summary>The model's tokenizer.</summary>
    public ITextTokenizer Tokenizer => _tokenizer.Value;

    /// <summary>The model directory; null for the built-in model.</summary>
    public string? Directory { get; }

    /// <inheritdoc />
    public void Dispose() => Tensors.Dispose();
}
