using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Models;

/// <summary>A model directory in a temp folder (config.json + safetensors), deleted on dispose.</summary>
internal sealed class TestModelDirectory : IDisposable
{
    private TestModelDirectory(string path) => Path = path;

    public string Path { get; }

    public string ConfigPath => System.IO.Path.Combine(Path, "config.json");

    public static TestModelDirectory Empty()
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "oi-model-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return new TestModelDirectory(path);
    }

    /// <summary>
    /// A small Qwen2-style config: q/k/v biases, tied embeddings, head_dim absent, GQA 4/2, llama3 RoPE scaling with a
    /// short original context so all three frequency bands (kept, blended, slowed) occur.
    /// </summary>
    public static JsonObject Qwen2Config() => new()
    {
        ["architectures"] = new JsonArray("Qwen2ForCausalLM"),
        ["model_type"] = "qwen2",
        ["hidden_size"] = 32,
        ["intermediate_size"] = 48,
        ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 4,
        ["num_key_value_heads"] = 2,
        ["vocab_size"] = 97,
        ["rms_norm_eps"] = 1e-6,
        ["max_position_embeddings"] = 256,
        ["tie_word_embeddings"] = true,
        ["hidden_act"] = "silu",
        ["rope_theta"] = 10000.0,
        ["rope_scaling"] = new JsonObject
        {
            ["rope_type"] = "llama3",
            ["factor"] = 8.0,
            ["low_freq_factor"] = 1.0,
            ["high_freq_factor"] = 4.0,
            ["original_max_position_embeddings"] = 16,
        },
        ["sliding_window"] = 4096,
        ["use_sliding_window"] = false,
        ["bos_token_id"] = 1,
        ["eos_token_id"] = new JsonArray(2, 3),
        ["torch_dtype"] = "bfloat16",
    };

    /// <summary>
    /// A small Llama config exercising the other paths: attention_bias (q/k/v and o biases), multi-head attention,
    /// an explicit head_dim different from hidden / heads, linear RoPE scaling in the v5 form, untied head.
    /// </summary>
    public static JsonObject LlamaBiasConfig() => new()
    {
        ["model_type"] = "llama",
        ["hidden_size"] = 24,
        ["intermediate_size"] = 40,
        ["num_hidden_layers"] = 2,
        ["num_attention_heads"] = 2,
        ["head_dim"] = 16,
        ["vocab_size"] = 53,
        ["rms_norm_eps"] = 1e-5,
        ["max_position_embeddings"] = 128,
        ["tie_word_embeddings"] = false,
        ["attention_bias"] = true,
        ["rope_parameters"] = new JsonObject { ["rope_type"] = "linear", ["rope_theta"] = 500.0, ["factor"] = 2.0 },
        ["eos_token_id"] = 0,
    };

    /// <summary>Writes <paramref name="config"/> and seeded weights for it as one safetensors file.</summary>
    public static TestModelDirectory Create(JsonObject config, ulong seed = 7, DType matrixType = DType.BF16)
    {
        var dir = Empty();
        dir.WriteConfig(config);
        var parsed = ModelConfigParser.ParseFile(dir.ConfigPath);
        using var weights = SyntheticWeights.Generate(parsed, seed, "test");
        SafeTensorsWriter.Write(System.IO.Path.Combine(dir.Path, "model.safetensors"), SafeTensorsWriter.From(weights, matrixType));
        return dir;
    }

    public void WriteConfig(JsonObject config) =>
        File.WriteAllText(ConfigPath, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    public string FilePath(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A mapped file may still be open on some platforms; the temp folder is cleaned eventually.
        }
    }
}
