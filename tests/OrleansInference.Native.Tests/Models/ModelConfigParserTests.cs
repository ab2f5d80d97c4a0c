using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Models;

public sealed class ModelConfigParserTests
{
    private const string Origin = "/models/x/config.json";

    private static string Llama(string extra = "") => $$"""
        {
          "model_type": "llama",
          "hidden_size": 2048,
          "intermediate_size": 8192,
          "num_hidden_layers": 16,
          "num_attention_heads": 32,
          "num_key_value_heads": 8,
          "vocab_size": 128256,
          "rms_norm_eps": 1e-05,
          "max_position_embeddings": 131072,
          "tie_word_embeddings": true,
          "bos_token_id": 128000,
          "eos_token_id": [128001, 128008, 128009]{{extra}}
        }
        """;

    [Fact]
    public void ParsesLlamaWithV4RopeScaling()
    {
        var c = ModelConfigParser.Parse(Llama("""
            , "head_dim": 64, "rope_theta": 500000.0,
            "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"}
            """), Origin);

        Assert.Equal("llama", c.ModelType);
        Assert.Equal(2048, c.HiddenSize);
        Assert.Equal(8192, c.IntermediateSize);
        Assert.Equal(16, c.NumLayers);
        Assert.Equal(32, c.NumHeads);
        Assert.Equal(8, c.NumKvHeads);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(4, c.GroupSize);
        Assert.Equal(128256, c.VocabSize);
        Assert.Equal(1e-5, c.RmsNormEps);
        Assert.Equal(131072, c.MaxPositionEmbeddings);
        Assert.True(c.TieWordEmbeddings);
        Assert.False(c.AttentionBias);
        Assert.Equal(128000, c.BosTokenId);
        Assert.Equal([128001, 128008, 128009], c.EosTokenIds);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(new RopeScaling("llama3", 32.0, 1.0, 4.0, 8192), c.RopeScaling);
    }

    [Fact]
    public void ParsesV5RopeParameters()
    {
        var c = ModelConfigParser.Parse(Llama("""
            , "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192}
            """), Origin);

        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(new RopeScaling("llama3", 8.0, 1.0, 4.0, 8192), c.RopeScaling);
    }

    [Fact]
    public void V5DefaultRopeHasNoScaling()
    {
        var c = ModelConfigParser.Parse(Llama(""", "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0}"""), Origin);
        Assert.Equal(1000000.0, c.RopeTheta);
        Assert.Null(c.RopeScaling);
    }

    [Fact]
    public void LinearScalingWithLegacyTypeKey()
    {
        var c = ModelConfigParser.Parse(Llama(""", "rope_scaling": {"type": "linear", "factor": 4.0}"""), Origin);
        Assert.Equal(new RopeScaling("linear", 4.0), c.RopeScaling);
        Assert.Equal(10000.0, c.RopeTheta);
    }

    [Fact]
    public void HeadDimAbsentOrNullIsHiddenOverHeads()
    {
        Assert.Equal(64, ModelConfigParser.Parse(Llama(), Origin).HeadDim);
        Assert.Equal(64, ModelConfigParser.Parse(Llama(""", "head_dim": null"""), Origin).HeadDim);
        Assert.Equal(128, ModelConfigParser.Parse(Llama(""", "head_dim": 128"""), Origin).HeadDim);
    }

    [Fact]
    public void MissingKvHeadsMeansMultiHead()
    {
        var c = ModelConfigParser.Parse("""
            {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 4, "vocab_size": 100, "eos_token_id": 2, "sliding_window": null}
            """, Origin);
        Assert.Equal(4, c.NumKvHeads);
        Assert.Equal([2], c.EosTokenIds);
        Assert.Null(c.BosTokenId);
        Assert.Null(c.RopeScaling);
    }

    [Fact]
    public void Qwen2AlwaysHasBiasesAndIgnoresInactiveSlidingWindow()
    {
        var c = ModelConfigParser.Parse("""
            {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
             "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "rope_theta": 1000000.0,
             "max_position_embeddings": 32768, "sliding_window": 4096, "use_sliding_window": false,
             "tie_word_embeddings": true, "eos_token_id": 151643, "bos_token_id": 151643}
            """, Origin);
        Assert.True(c.AttentionBias);
        Assert.False(c.AttentionOutputBias);
        Assert.Equal(64, c.HeadDim);
        Assert.Equal(1000000.0, c.RopeTheta);
    }

    [Fact]
    public void LlamaAttentionBiasAlsoBiasesOutputProjection()
    {
        var c = ModelConfigParser.Parse(Llama(""", "attention_bias": true"""), Origin);
        Assert.True(c.AttentionBias);
        Assert.True(c.AttentionOutputBias);
    }

    [Fact]
    public void MistralNeverHasAttentionBiases()
    {
        var c = ModelConfigParser.Parse("""
            {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 4, "vocab_size": 100, "attention_bias": true}
            """, Origin);
        Assert.False(c.AttentionBias);
        Assert.False(c.AttentionOutputBias);
    }

    [Fact]
    public void MistralSlidingWindowAtLeastMaxLengthIsIgnored()
    {
        var c = ModelConfigParser.Parse("""
            {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
             "max_position_embeddings": 4096, "sliding_window": 4096}
            """, Origin);
        Assert.Equal(4096, c.MaxPositionEmbeddings);
    }

    [Theory]
    [InlineData("""{"model_type": "gpt2", "hidden_size": 8}""", "model_type 'gpt2' is not supported")]
    [InlineData("""{"hidden_size": 8}""", "missing 'model_type'")]
    [InlineData("""{"model_type": "llama", "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10}""", "missing 'hidden_size'")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 3, "vocab_size": 10}""", "num_key_value_heads=3")]
    [InlineData("""{"model_type": "mistral", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10, "max_position_embeddings": 32768, "sliding_window": 4096}""", "sliding_window=4096")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}""", "rope type 'yarn' is not supported")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}""", "missing 'low_freq_factor'")]
    [InlineData("""{"model_type": "llama", "hidden_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 10, "hidden_act": "gelu"}""", "hidden_act 'gelu'")]
    [InlineData("""{"model_type": "llama", "hidden_size": "big"}""", "'hidden_size' must be an integer")]
    [InlineData("""{"model_type": "llama", """, "invalid JSON")]
    public void RejectsWithFileAndReason(string json, string expected)
    {
        var e = Assert.Throws<ModelLoadException>(() => ModelConfigParser.Parse(json, Origin));
        Assert.Contains(Origin, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ParseFileNamesMissingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "oi-missing-" + Guid.NewGuid().ToString("N"), "config.json");
        var e = Assert.Throws<ModelLoadException>(() => ModelConfigParser.ParseFile(path));
        Assert.Contains(path, e.Message);
    }
}
