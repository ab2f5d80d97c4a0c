using System.Globalization;
using System.Text.Json;

namespace OrleansInference.Native.Models;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> of a Llama-family decoder (<c>llama</c>, <c>mistral</c>, <c>qwen2</c>) into a
/// <see cref="ModelConfig"/>. Accepts RoPE settings in both the transformers v4 form (<c>rope_theta</c>,
/// <c>rope_scaling</c>) and the v5 form (<c>rope_parameters</c>). Anything this runtime cannot compute faithfully
/// (another architecture, activation, RoPE type, an active sliding window) is refused with a
/// <see cref="ModelLoadException"/> naming the file and the field.
/// </summary>
public static class ModelConfigParser
{
    /// <summary>The <c>model_type</c> values accepted.</summary>
    public static IReadOnlyList<string> SupportedModelTypes { get; } = ["llama", "mistral", "qwen2"];

    /// <summary>Reads and parses a <c>config.json</c> file.</summary>
    public static ModelConfig ParseFile(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException($"{path}: cannot read the model config: {e.Message}", e);
        }

        return Parse(json, path);
    }

    /// <summary>Parses config JSON; <paramref name="origin"/> names the file in error messages.</summary>
    public static ModelConfig Parse(string json, string origin)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{origin}: invalid JSON: {e.Message}", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException($"{origin}: expected a JSON object at the top level.");
            }

            return new Reader(doc.RootElement, origin).Read();
        }
    }

    private readonly struct Reader(JsonElement root, string origin)
    {
        public ModelConfig Read()
        {
            string modelType = String("model_type") ?? throw Error("missing 'model_type'");
            if (!SupportedModelTypes.Contains(modelType))
            {
                throw Error($"model_type '{modelType}' is not supported (supported: {string.Join(", ", SupportedModelTypes)})");
            }

            string? act = String("hidden_act") ?? String("hidden_activation");
            if (act is not null && act != "silu")
            {
                throw Error($"hidden_act '{act}' is not supported (only silu)");
            }

            if (Bool("mlp_bias") == true)
            {
                throw Error("mlp_bias=true is not supported");
            }

            int hidden = RequiredPositive("hidden_size");
            int heads = RequiredPositive("num_attention_heads");
            int kvHeads = Int("num_key_value_heads") ?? heads;
            if (kvHeads <= 0 || heads % kvHeads != 0)
            {
                throw Error($"num_key_value_heads={kvHeads} must be positive and divide num_attention_heads={heads}");
            }

            int headDim = Int("head_dim") ?? (hidden % heads == 0 ? hidden / heads : throw Error($"hidden_size={hidden} is not a multiple of num_attention_heads={heads} and head_dim is absent"));
            if (headDim <= 0 || headDim % 2 != 0)
            {
                throw Error($"head_dim={headDim} must be positive and even (RoPE rotates pairs)");
            }

            int maxPositions = Int("max_position_embeddings") ?? DefaultMaxPositions(modelType);
            CheckSlidingWindow(modelType, maxPositions);

            // transformers: Qwen2 always biases q/k/v; Llama biases q/k/v/o with attention_bias; Mistral never.
            bool llamaBias = modelType == "llama" && Bool("attention_bias") == true;
            bool attentionBias = modelType == "qwen2" || llamaBias;
            var (theta, scaling) = ReadRope(modelType);

            return new ModelConfig
            {
                ModelType = modelType,
                HiddenSize = hidden,
                IntermediateSize = RequiredPositive("intermediate_size"),
                NumLayers = RequiredPositive("num_hidden_layers"),
                NumHeads = heads,
                NumKvHeads = kvHeads,
                HeadDim = headDim,
                VocabSize = RequiredPositive("vocab_size"),
                RmsNormEps = Double("rms_norm_eps") ?? 1e-6,
                RopeTheta = theta,
                RopeScaling = scaling,
                MaxPositionEmbeddings = maxPositions,
                TieWordEmbeddings = Bool("tie_word_embeddings") ?? false,
                AttentionBias = attentionBias,
                AttentionOutputBias = llamaBias,
                BosTokenId = Int("bos_token_id"),
                EosTokenIds = IntList("eos_token_id"),
            };
        }

        private static int DefaultMaxPositions(string modelType) => modelType switch
        {
            "mistral" => 4096 * 32,
            "qwen2" => 32768,
            _ => 2048,
        };

        private void CheckSlidingWindow(string modelType, int maxPositions)
        {
            int? window = Int("sliding_window");
            if (window is null || window >= maxPositions)
            {
                return;
            }

            // Qwen2 carries sliding_window but only applies it with use_sliding_window=true.
            if (modelType == "qwen2" && Bool("use_sliding_window") != true)
            {
                return;
            }

            throw Error($"sliding_window={window} (< max_position_embeddings={maxPositions}) is not supported: attention here is always full causal");
        }

        private (double Theta, RopeScaling? Scaling) ReadRope(string modelType)
        {
            if (root.TryGetProperty("rope_parameters", out var p) && p.ValueKind == JsonValueKind.Object)
            {
                // transformers v5: one object holds theta and the scaling parameters.
                var sub = new Reader(p, origin + " (rope_parameters)");
                double theta = sub.Double("rope_theta") ?? Double("rope_theta") ?? 10000.0;
                return (theta, sub.ReadScaling());
            }

            double v4Theta = Double("rope_theta") ?? 10000.0;
            if (root.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object)
            {
                return (v4Theta, new Reader(s, origin + " (rope_scaling)").ReadScaling());
            }

            return (v4Theta, null);
        }

        private RopeScaling? ReadScaling()
        {
            string type = String("rope_type") ?? String("type") ?? "default";
            switch (type)
            {
                case "default":
                    return null;
                case "linear":
                    return new RopeScaling("linear", Factor: RequiredPositiveDouble("factor"));
                case "llama3":
                    var r = new RopeScaling(
                        "llama3",
                        Factor: RequiredPositiveDouble("factor"),
                        LowFreqFactor: RequiredPositiveDouble("low_freq_factor"),
                        HighFreqFactor: RequiredPositiveDouble("high_freq_factor"),
                        OriginalMaxPositionEmbeddings: Int("original_max_position_embeddings") ?? throw Error("missing 'original_max_position_embeddings'"));
                    if (r.HighFreqFactor <= r.LowFreqFactor)
                    {
                        throw Error($"high_freq_factor={r.HighFreqFactor} must exceed low_freq_factor={r.LowFreqFactor}");
                    }

                    return r;
                default:
                    throw Error($"rope type '{type}' is not supported (supported: default, linear, llama3)");
            }
        }

        private ModelLoadException Error(string what) => new($"{origin}: {what}.");

        private bool TryGet(string name, out JsonElement value) =>
            root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

        private string? String(string name)
        {
            if (!TryGet(name, out var v))
            {
                return null;
            }

            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"'{name}' must be a string, got {v.ValueKind}");
        }

        private bool? Bool(string name)
        {
            if (!TryGet(name, out var v))
            {
                return null;
            }

            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error($"'{name}' must be true or false, got {v.GetRawText()}"),
            };
        }

        private int? Int(string name)
        {
            if (!TryGet(name, out var v))
            {
                return null;
            }

            return AsInt(name, v);
        }

        private int AsInt(string name, JsonElement v)
        {
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i))
            {
                return i;
            }

            // Some configs write integral values as 8192.0.
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
            {
                return (int)d;
            }

            throw Error($"'{name}' must be an integer, got {v.GetRawText()}");
        }

        private double? Double(string name)
        {
            if (!TryGet(name, out var v))
            {
                return null;
            }

            if (v.ValueKind == JsonValueKind.Number)
            {
                return v.GetDouble();
            }

            if (v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            {
                return d;
            }

            throw Error($"'{name}' must be a number, got {v.GetRawText()}");
        }

        private int RequiredPositive(string name)
        {
            int value = Int(name) ?? throw Error($"missing '{name}'");
            return value > 0 ? value : throw Error($"'{name}' must be positive, got {value}");
        }

        private double RequiredPositiveDouble(string name)
        {
            double value = Double(name) ?? throw Error($"missing '{name}'");
            return value > 0 ? value : throw Error($"'{name}' must be positive, got {value}");
        }

        private IReadOnlyList<int> IntList(string name)
        {
            if (!TryGet(name, out var v))
            {
                return [];
            }

            if (v.ValueKind == JsonValueKind.Array)
            {
                var list = new List<int>();
                foreach (var item in v.EnumerateArray())
                {
                    list.Add(AsInt(name, item));
                }

                return list;
            }

            return [AsInt(name, v)];
        }
    }
}
