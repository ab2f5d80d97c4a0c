using System.Text.Json;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>
/// What a model directory's tokenizer_config.json, special_tokens_map.json, generation_config.json, config.json and
/// chat_template.jinja say about special tokens and chat formatting (each file optional).
/// </summary>
internal sealed record ModelDirectoryConfig
{
    public string? BosToken { get; init; }
    public string? EosToken { get; init; }
    public bool? AddBosToken { get; init; }
    public bool? AddEosToken { get; init; }
    public string? TokenizerClass { get; init; }
    public string? ChatTemplate { get; init; }
    public IReadOnlyList<int> GenerationEosIds { get; init; } = [];
    public IReadOnlyList<int> ConfigEosIds { get; init; } = [];

    public static ModelDirectoryConfig Read(string directory)
    {
        var tokenizerConfig = ReadJson(Path.Combine(directory, "tokenizer_config.json"));
        var specialMap = ReadJson(Path.Combine(directory, "special_tokens_map.json"));
        var generation = ReadJson(Path.Combine(directory, "generation_config.json"));
        var config = ReadJson(Path.Combine(directory, "config.json"));

        string? template = null;
        var jinja = Path.Combine(directory, "chat_template.jinja");
        if (File.Exists(jinja))
        {
            template = File.ReadAllText(jinja);
        }
        else if (tokenizerConfig is { } tc && TokenizerJsonReader.Optional(tc, "chat_template") is { } ct)
        {
            template = ct.ValueKind switch
            {
                JsonValueKind.String => ct.GetString(),
                // A list of named templates: the default one (else the first).
                JsonValueKind.Array => ct.EnumerateArray()
                    .Select(x => (Name: TokenizerJsonReader.Str(x, "name"), Template: TokenizerJsonReader.Str(x, "template")))
                    .OrderByDescending(x => x.Name == "default")
                    .Select(x => x.Template)
                    .FirstOrDefault(),
                _ => null,
            };
        }
        else if (ReadJson(Path.Combine(directory, "chat_template.json")) is { } ctj)
        {
            template = TokenizerJsonReader.Str(ctj, "chat_template");
        }

        return new ModelDirectoryConfig
        {
            BosToken = TokenText(tokenizerConfig, "bos_token") ?? TokenText(specialMap, "bos_token"),
            EosToken = TokenText(tokenizerConfig, "eos_token") ?? TokenText(specialMap, "eos_token"),
            AddBosToken = OptionalBool(tokenizerConfig, "add_bos_token"),
            AddEosToken = OptionalBool(tokenizerConfig, "add_eos_token"),
            TokenizerClass = tokenizerConfig is { } t ? TokenizerJsonReader.Str(t, "tokenizer_class") : null,
            ChatTemplate = template,
            GenerationEosIds = Ids(generation, "eos_token_id"),
            ConfigEosIds = Ids(config, "eos_token_id"),
        };
    }

    private static JsonElement? ReadJson(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path} is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>A special token written either as a string or as an AddedToken object with "content".</summary>
    private static string? TokenText(JsonElement? file, string name)
    {
        if (file is not { } f || TokenizerJsonReader.Optional(f, name) is not { } v)
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object => TokenizerJsonReader.Str(v, "content"),
            _ => null,
        };
    }

    private static bool? OptionalBool(JsonElement? file, string name) =>
        file is { } f && TokenizerJsonReader.Optional(f, name) is { } v && v.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? v.GetBoolean()
            : null;

    /// <summary>An id written as an int or a list of ints (also inside text_config for multimodal configs).</summary>
    private static IReadOnlyList<int> Ids(JsonElement? file, string name)
    {
        if (file is not { } f)
        {
            return [];
        }

        var v = TokenizerJsonReader.Optional(f, name)
            ?? (TokenizerJsonReader.Optional(f, "text_config") is { } text ? TokenizerJsonReader.Optional(text, name) : null);
        return v switch
        {
            { ValueKind: JsonValueKind.Number } n => [n.GetInt32()],
            { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()).ToArray(),
            _ => [],
        };
    }
}
