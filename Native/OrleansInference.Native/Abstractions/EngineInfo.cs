namespace OrleansInference.Native;

/// <summary>What a caller must know about an engine to place work on it.</summary>
public sealed record EngineInfo
{
    /// <summary>Model name served (OpenAI's <c>model</c>).</summary>
    public required string ModelId { get; init; }

    /// <summary>Tokens per KV block.</summary>
    public required int BlockSize { get; init; }

    /// <summary>Version of <see cref="Kv.BlockHasher"/>; placement refuses engines that disagree.</summary>
    public int HashVersion { get; init; } = Kv.BlockHasher.Version;

    /// <summary>Maximum prompt + output tokens.</summary>
    public required int MaxModelLength { get; init; }

    /// <summary>Vocabulary size.</summary>
    public required int VocabSize { get; init; }

    /// <summary>Backend name, e.g. <c>cpu</c> or <c>cuda:0</c>.</summary>
    public required string Device { get; init; }

    /// <summary>Token ids that end generation.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
}
