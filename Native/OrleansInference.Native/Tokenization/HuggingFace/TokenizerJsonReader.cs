using System.Text;
using System.Text.Json;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>The parts of a tokenizer.json, built into runnable pieces.</summary>
internal sealed record TokenizerDefinition(
    BpeModel Model,
    IReadOnlyList<AddedToken> AddedTokens,
    INormalizer? Normalizer,
    IPreTokenizer? PreTokenizer,
    IPostProcessor? PostProcessor,
    ITokenDecoder? Decoder);

/// <summary>
/// Reads tokenizer.json as the Hugging Face tokenizers library writes it. Supports the BPE model with the normalizers,
/// pre-tokenizers, post-processors and decoders that byte-level (GPT-2, Llama 3, Qwen2) and SentencePiece-style
/// (Llama 2, Mistral) models use; anything else is refused with a <see cref="ModelLoadException"/> naming the file.
/// </summary>
internal static class TokenizerJsonReader
{
    public static TokenizerDefinition Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"{path} does not exist: a Hugging Face tokenizer directory needs tokenizer.json.");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new ModelLoadException($"{path} is not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            try
            {
                return Build(doc.RootElement, path);
            }
            catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException or ArgumentException)
            {
                throw new ModelLoadException($"{path}: unexpected structure: {e.Message}", e);
            }
        }
    }

    private static TokenizerDefinition Build(JsonElement root, string file)
    {
        var normalizer = Optional(root, "normalizer") is { } n ? ReadNormalizer(n, file) : null;
        var model = ReadModel(root.GetProperty("model"), file);
        var added = new List<AddedToken>();
        if (Optional(root, "added_tokens") is { ValueKind: JsonValueKind.Array } tokens)
        {
            foreach (var t in tokens.EnumerateArray())
            {
                added.Add(new AddedToken(
                    t.GetProperty("id").GetInt32(),
                    t.GetProperty("content").GetString() ?? "",
                    Bool(t, "single_word"),
                    Bool(t, "lstrip"),
                    Bool(t, "rstrip"),
                    Bool(t, "normalized", defaultValue: true),
                    Bool(t, "special")));
            }
        }

        return new TokenizerDefinition(
            model,
            added,
            normalizer,
            Optional(root, "pre_tokenizer") is { } p ? ReadPreTokenizer(p, file) : null,
            Optional(root, "post_processor") is { } pp ? ReadPostProcessor(pp, file) : null,
            Optional(root, "decoder") is { } d ? ReadDecoder(d, file) : null);
    }

    private static BpeModel ReadModel(JsonElement m, string file)
    {
        var type = Str(m, "type") ?? (Optional(m, "merges") is not null ? "BPE" : "unknown");
        if (type != "BPE")
        {
            throw new ModelLoadException($"{file}: model type '{type}' is not supported (only BPE: byte-level or SentencePiece-style).");
        }

        var vocabJson = m.GetProperty("vocab");
        var vocab = new Dictionary<string, int>(vocabJson.EnumerateObject().Count(), StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }

        var merges = new List<(string, string)>();
        if (Optional(m, "merges") is { ValueKind: JsonValueKind.Array } mergesJson)
        {
            var rank = 0;
            foreach (var merge in mergesJson.EnumerateArray())
            {
                if (merge.ValueKind == JsonValueKind.Array)
                {
                    merges.Add((merge[0].GetString() ?? "", merge[1].GetString() ?? ""));
                }
                else
                {
                    // Legacy "a b" form: exactly one space.
                    var s = merge.GetString() ?? "";
                    if (s.StartsWith("#version", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var parts = s.Split(' ');
                    if (parts.Length != 2)
                    {
                        throw new ModelLoadException($"{file}: merge {rank} '{s}' is not two tokens separated by one space.");
                    }

                    merges.Add((parts[0], parts[1]));
                }

                rank++;
            }
        }

        if (Optional(m, "dropout") is { ValueKind: JsonValueKind.Number } dropout && dropout.GetDouble() > 0)
        {
            throw new ModelLoadException($"{file}: BPE dropout is a training feature and is not supported at inference.");
        }

        var settings = new BpeSettings
        {
            UnkToken = Str(m, "unk_token"),
            FuseUnk = Bool(m, "fuse_unk"),
            ByteFallback = Bool(m, "byte_fallback"),
            IgnoreMerges = Bool(m, "ignore_merges"),
            ContinuingSubwordPrefix = Str(m, "continuing_subword_prefix"),
            EndOfWordSuffix = Str(m, "end_of_word_suffix"),
        };
        return new BpeModel(vocab, merges, settings, file);
    }

    private static INormalizer ReadNormalizer(JsonElement n, string file)
    {
        var type = Str(n, "type");
        return type switch
        {
            "Sequence" => new SequenceNormalizer(n.GetProperty("normalizers").EnumerateArray().Select(x => ReadNormalizer(x, file)).ToArray()),
            "Prepend" => new PrependNormalizer(Str(n, "prepend") ?? ""),
            "Replace" => new ReplaceNormalizer(ReadPattern(n.GetProperty("pattern"), file), Str(n, "content") ?? ""),
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD),
            "Lowercase" => new LowercaseNormalizer(),
            "Strip" => new StripNormalizer(Bool(n, "strip_left"), Bool(n, "strip_right")),
            "ByteLevel" => new ByteLevelNormalizer(),
            _ => throw new ModelLoadException($"{file}: normalizer '{type}' is not supported."),
        };
    }

    private static IPreTokenizer ReadPreTokenizer(JsonElement p, string file)
    {
        var type = Str(p, "type");
        switch (type)
        {
            case "Sequence":
                return new SequencePreTokenizer(p.GetProperty("pretokenizers").EnumerateArray().Select(x => ReadPreTokenizer(x, file)).ToArray());
            case "Split":
                return new SplitPreTokenizer(ReadPattern(p.GetProperty("pattern"), file), ReadBehavior(Str(p, "behavior"), file), Bool(p, "invert"));
            case "ByteLevel":
                return new ByteLevelPreTokenizer(Bool(p, "add_prefix_space", defaultValue: true), Bool(p, "use_regex", defaultValue: true),
                    new OnigRegex(ByteLevelPreTokenizer.Gpt2Pattern, file));
            case "Metaspace":
            {
                var (replacement, scheme) = ReadMetaspace(p, file);
                return new MetaspacePreTokenizer(replacement, scheme, Bool(p, "split", defaultValue: true));
            }

            case "Digits":
                return new DigitsPreTokenizer(Bool(p, "individual_digits"));
            case "WhitespaceSplit":
                return new WhitespaceSplitPreTokenizer(new OnigRegex(@"\s+", file));
            case "Whitespace":
                return new SplitPreTokenizer(new OnigRegex(@"\w+|[^\w\s]+", file), SplitBehavior.Removed, invert: true);
            default:
                throw new ModelLoadException($"{file}: pre-tokenizer '{type}' is not supported.");
        }
    }

    private static (char Replacement, PrependScheme Scheme) ReadMetaspace(JsonElement p, string file)
    {
        var rep = Str(p, "replacement") ?? "▁";
        if (rep.Length != 1)
        {
            throw new ModelLoadException($"{file}: Metaspace replacement '{rep}' must be one character.");
        }

        var scheme = Str(p, "prepend_scheme") switch
        {
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            "always" => PrependScheme.Always,
            null => PrependScheme.Always,
            var other => throw new ModelLoadException($"{file}: Metaspace prepend_scheme '{other}' is not known."),
        };
        if (Optional(p, "add_prefix_space") is { ValueKind: JsonValueKind.False })
        {
            scheme = PrependScheme.Never;
        }

        return (rep[0], scheme);
    }

    private static SplitBehavior ReadBehavior(string? behavior, string file) => behavior switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new ModelLoadException($"{file}: split behavior '{behavior}' is not known."),
    };

    private static OnigRegex ReadPattern(JsonElement pattern, string file)
    {
        if (Str(pattern, "Regex") is { } regex)
        {
            return new OnigRegex(regex, file);
        }

        if (Str(pattern, "String") is { } literal)
        {
            return OnigRegex.Literal(literal, file);
        }

        throw new ModelLoadException($"{file}: a pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}.");
    }

    private static ITokenDecoder ReadDecoder(JsonElement d, string file)
    {
        var type = Str(d, "type");
        switch (type)
        {
            case "Sequence":
                return new SequenceDecoder(d.GetProperty("decoders").EnumerateArray().Select(x => ReadDecoder(x, file)).ToArray());
            case "ByteLevel":
                return new ByteLevelDecoder();
            case "ByteFallback":
                return new ByteFallbackDecoder();
            case "Fuse":
                return new FuseDecoder();
            case "Strip":
            {
                var content = Str(d, "content") ?? " ";
                return new StripDecoder(content.Length == 1 ? content[0] : ' ', Int(d, "start"), Int(d, "stop"));
            }

            case "Replace":
                return new ReplaceDecoder(ReadPattern(d.GetProperty("pattern"), file), Str(d, "content") ?? "");
            case "Metaspace":
            {
                var (replacement, scheme) = ReadMetaspace(d, file);
                return new MetaspaceDecoder(replacement, scheme);
            }

            case "BPEDecoder":
                return new BpeSuffixDecoder(Str(d, "suffix") ?? "</w>");
            default:
                throw new ModelLoadException($"{file}: decoder '{type}' is not supported.");
        }
    }

    private static IPostProcessor ReadPostProcessor(JsonElement p, string file)
    {
        var type = Str(p, "type");
        switch (type)
        {
            case "Sequence":
                return new SequencePostProcessor(p.GetProperty("processors").EnumerateArray().Select(x => ReadPostProcessor(x, file)).ToArray());
            case "ByteLevel":
                return new IdentityPostProcessor();
            case "TemplateProcessing":
            {
                var special = new Dictionary<string, int[]>(StringComparer.Ordinal);
                if (Optional(p, "special_tokens") is { ValueKind: JsonValueKind.Object } map)
                {
                    foreach (var entry in map.EnumerateObject())
                    {
                        special[entry.Name] = entry.Value.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
                    }
                }

                var items = new List<int[]?>();
                foreach (var item in p.GetProperty("single").EnumerateArray())
                {
                    if (Optional(item, "SpecialToken") is { } st)
                    {
                        var id = Str(st, "id") ?? "";
                        items.Add(special.TryGetValue(id, out var ids)
                            ? ids
                            : throw new ModelLoadException($"{file}: template special token '{id}' is missing from special_tokens."));
                    }
                    else
                    {
                        items.Add(null); // Sequence A
                    }
                }

                return new TemplatePostProcessor(items);
            }

            case "RobertaProcessing" or "BertProcessing":
            {
                var cls = p.GetProperty("cls")[1].GetInt32();
                var sep = p.GetProperty("sep")[1].GetInt32();
                return new TemplatePostProcessor([[cls], null, [sep]]);
            }

            default:
                throw new ModelLoadException($"{file}: post-processor '{type}' is not supported.");
        }
    }

    internal static JsonElement? Optional(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    internal static string? Str(JsonElement e, string name) =>
        Optional(e, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool defaultValue = false) => Optional(e, name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => defaultValue,
    };

    private static int Int(JsonElement e, string name) =>
        Optional(e, name) is { ValueKind: JsonValueKind.Number } v ? v.GetInt32() : 0;
}
