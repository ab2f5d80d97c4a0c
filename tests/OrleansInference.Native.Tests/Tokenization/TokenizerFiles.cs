using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>Writes model directories the way transformers' save_pretrained lays them out, for tests.</summary>
internal sealed class TokenizerFiles : IDisposable
{
    public TokenizerFiles()
    {
        Directory = Path.Combine(Path.GetTempPath(), "oi-tok-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public TokenizerFiles Write(string name, JsonNode node)
    {
        File.WriteAllText(Path.Combine(Directory, name), node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return this;
    }

    public TokenizerFiles WriteText(string name, string text)
    {
        File.WriteAllText(Path.Combine(Directory, name), text);
        return this;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static JsonObject Added(int id, string content, bool special = true, bool normalized = false, bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["id"] = id,
        ["content"] = content,
        ["single_word"] = singleWord,
        ["lstrip"] = lstrip,
        ["rstrip"] = rstrip,
        ["normalized"] = normalized,
        ["special"] = special,
    };

    public static JsonObject Vocab(params string[] tokens)
    {
        var v = new JsonObject();
        for (var i = 0; i < tokens.Length; i++)
        {
            v[tokens[i]] = i;
        }

        return v;
    }

    public static JsonObject BosTemplate(string bos, int id) => new()
    {
        ["type"] = "TemplateProcessing",
        ["single"] = new JsonArray(
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
        ["pair"] = new JsonArray(
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 0 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = bos, ["type_id"] = 1 } },
            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
        ["special_tokens"] = new JsonObject { [bos] = new JsonObject { ["id"] = bos, ["ids"] = new JsonArray(id), ["tokens"] = new JsonArray(bos) } },
    };

    public static JsonObject Tokenizer(JsonObject model, JsonArray added, JsonNode? normalizer, JsonNode? preTokenizer, JsonNode? postProcessor, JsonNode? decoder) => new()
    {
        ["version"] = "1.0",
        ["truncation"] = null,
        ["padding"] = null,
        ["added_tokens"] = added,
        ["normalizer"] = normalizer,
        ["pre_tokenizer"] = preTokenizer,
        ["post_processor"] = postProcessor,
        ["decoder"] = decoder,
        ["model"] = model,
    };

    public static JsonObject Bpe(JsonObject vocab, IEnumerable<string> merges, bool byteFallback = false, string? unk = null, bool fuseUnk = false, bool ignoreMerges = false, bool tupleMerges = true) => new()
    {
        ["type"] = "BPE",
        ["dropout"] = null,
        ["unk_token"] = unk,
        ["continuing_subword_prefix"] = null,
        ["end_of_word_suffix"] = null,
        ["fuse_unk"] = fuseUnk,
        ["byte_fallback"] = byteFallback,
        ["ignore_merges"] = ignoreMerges,
        ["vocab"] = vocab,
        ["merges"] = tupleMerges
            ? new JsonArray(merges.Select(m => (JsonNode)new JsonArray(m.Split(' ')[0], m.Split(' ')[1])).ToArray())
            : new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create(m)).ToArray()),
    };

    public static JsonObject ByteLevel(bool addPrefixSpace = false, bool useRegex = true) => new()
    {
        ["type"] = "ByteLevel",
        ["add_prefix_space"] = addPrefixSpace,
        ["trim_offsets"] = true,
        ["use_regex"] = useRegex,
    };
}
