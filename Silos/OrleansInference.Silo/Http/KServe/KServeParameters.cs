using System.Text.Json;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>
/// Reads sampling settings from KServe <c>parameters</c> (values are JSON booleans, numbers or strings), with the same
/// names as the OpenAI API: max_tokens, temperature, top_p, top_k, min_p, presence_penalty, frequency_penalty,
/// repetition_penalty, seed, stop, stop_token_ids, ignore_eos, priority.
/// </summary>
internal sealed class KServeParameters
{
    private static readonly HashSet<string> Known =
    [
        "max_tokens", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "seed", "stop", "stop_token_ids", "ignore_eos", "priority", "stream", "cache_salt",
    ];

    private readonly Dictionary<string, JsonElement> _values = new(StringComparer.Ordinal);
    private readonly string _prefix;

    public KServeParameters(string prefix, params Dictionary<string, JsonElement>?[] sources)
    {
        _prefix = prefix;
        foreach (var source in sources)
        {
            if (source is null)
            {
                continue;
            }
            foreach (var (key, value) in source)
            {
                if (!Known.Contains(key))
                {
                    throw ApiRequestException.BadRequest(
                        $"Unknown parameter '{key}'. Known parameters: {string.Join(", ", Known.Order(StringComparer.Ordinal))}.", Name(key));
                }
                _values[key] = value;
            }
        }
    }

    public SamplingInput ToSamplingInput() => new()
    {
        MaxTokens = Int("max_tokens"),
        Temperature = Float("temperature"),
        TopP = Float("top_p"),
        TopK = Int("top_k"),
        MinP = Float("min_p"),
        PresencePenalty = Float("presence_penalty"),
        FrequencyPenalty = Float("frequency_penalty"),
        RepetitionPenalty = Float("repetition_penalty"),
        Seed = Long("seed"),
        Stop = Strings("stop"),
        StopTokenIds = Ints("stop_token_ids"),
        IgnoreEos = Bool("ignore_eos"),
    };

    public string? Priority => String("priority");

    public string? CacheSalt => String("cache_salt");

    private string Name(string key) => _prefix + key;

    private bool TryGet(string key, out JsonElement value) =>
        _values.TryGetValue(key, out value) && value.ValueKind != JsonValueKind.Null;

    private float? Float(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetSingle(out var f) ? f
        : throw Wrong(key, "a number");

    private int? Int(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i
        : throw Wrong(key, "an integer");

    private long? Long(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l
        : throw Wrong(key, "an integer");

    private bool? Bool(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw Wrong(key, "a boolean");

    private string? String(string key) =>
        !TryGet(key, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : throw Wrong(key, "a string");

    public bool? Stream => Bool("stream");

    private IReadOnlyList<string>? Strings(string key)
    {
        if (!TryGet(key, out var v))
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.String)
        {
            return [v.GetString()!];
        }
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            return v.EnumerateArray().Select(e => e.GetString()!).ToList();
        }
        throw Wrong(key, "a string or an array of strings");
    }

    private IReadOnlyList<int>? Ints(string key)
    {
        if (!TryGet(key, out var v))
        {
            return null;
        }
        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out _)))
        {
            return v.EnumerateArray().Select(e => e.GetInt32()).ToList();
        }
        throw Wrong(key, "an array of integers");
    }

    private ApiRequestException Wrong(string key, string expected) =>
        ApiRequestException.BadRequest($"Parameter '{key}' must be {expected}.", Name(key));
}
