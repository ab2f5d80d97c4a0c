namespace OrleansInference.Native.Models;

/// <summary>
/// A tiny Llama-architecture model generated in memory from a seed, so the whole system runs with no download: GPT-2's
/// vocabulary (50257, EOS 50256, no BOS), hidden 64, 2 layers, 4 query heads / 2 KV heads of width 16, MLP 128,
/// 2048 positions, untied head. Its weights are random (deterministic per seed), so the text it produces is
/// meaningless by nature; it exists to exercise and measure the machinery, with logits widened so they are rarely
/// near-tied.
/// </summary>
public static class BuiltinModel
{
    /// <summary>The name it is served under.</summary>
    public const string Id = "builtin";

    /// <summary>GPT-2's end-of-text id.</summary>
    public const int EosTokenId = 50256;

    /// <summary>Its architecture.</summary>
    public static ModelConfig Config { get; } = new()
    {
        ModelType = "llama",
        HiddenSize = 64,
        IntermediateSize = 128,
        NumLayers = 2,
        NumHeads = 4,
        NumKvHeads = 2,
        HeadDim = 16,
        VocabSize = 50257,
        RmsNormEps = 1e-5,
        RopeTheta = 10000.0,
        MaxPositionEmbeddings = 2048,
        TieWordEmbeddings = false,
        AttentionBias = false,
        BosTokenId = null,
        EosTokenIds = [EosTokenId],
    };

    /// <summary>Generates the model's weights from <paramref name="seed"/> (same seed, same weights, everywhere).</summary>
    public static LoadedModel Create(int seed = 1234) => Create(seed, Id);

    internal static LoadedModel Create(int seed, string id)
    {
        var tensors = SyntheticWeights.Generate(Config, unchecked((ulong)seed), origin: "builtin");
        return new LoadedModel(id, Config, tensors, TokenizerBinding.Builtin, directory: null);
    }
}
