using System.Text.Json.Nodes;
using OrleansInference.Native.Tokenization;
using Xunit;
using static OrleansInference.Native.Tests.Tokenization.TokenizerFiles;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>A directory laid out as transformers' save_pretrained writes it, with a Llama-3-like tokenizer.</summary>
public sealed class HfModelDirectoryTests : IDisposable
{
    private readonly TokenizerFiles _dir = new();

    public HfModelDirectoryTests()
    {
        string[] tokens = ["H", "i", "Ġ", "Hi", "ĠHi"];
        var added = new JsonArray(Added(5, "<|begin_of_text|>"), Added(6, "<|end_of_text|>"), Added(7, "<|start_header_id|>"),
            Added(8, "<|end_header_id|>"), Added(9, "<|eot_id|>"), Added(10, "<|mask|>", lstrip: true), Added(11, "<|pad|>", rstrip: true),
            Added(12, "i", special: false, singleWord: true));
        _dir.Write("tokenizer.json", Tokenizer(Bpe(Vocab(tokens), ["H i", "Ġ Hi"], ignoreMerges: true), added, null, ByteLevel(),
            new JsonObject { ["type"] = "Sequence", ["processors"] = new JsonArray(ByteLevel(), BosTemplate("<|begin_of_text|>", 5)) }, ByteLevel()));
        _dir.Write("tokenizer_config.json", new JsonObject
        {
            ["added_tokens_decoder"] = new JsonObject { ["5"] = new JsonObject { ["content"] = "<|begin_of_text|>", ["special"] = true } },
            ["bos_token"] = "<|begin_of_text|>",
            ["eos_token"] = new JsonObject { ["__type"] = "AddedToken", ["content"] = "<|eot_id|>" },
            ["clean_up_tokenization_spaces"] = true,
            ["model_max_length"] = 131072,
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
        });
        _dir.Write("generation_config.json", new JsonObject { ["bos_token_id"] = 5, ["eos_token_id"] = new JsonArray(6, 9), ["do_sample"] = true });
        _dir.Write("config.json", new JsonObject { ["model_type"] = "llama", ["bos_token_id"] = 5, ["eos_token_id"] = 6 });
        _dir.WriteText("chat_template.jinja", "{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}");
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Reads_special_tokens_eos_union_and_chat_template_file()
    {
        var tok = HfTokenizer.Load(_dir.Directory);
        Assert.Equal(5, tok.BosTokenId);
        Assert.Equal([6, 9], tok.EosTokenIds); // generation_config [6, 9] ∪ config 6 ∪ tokenizer_config <|eot_id|> = 9
        Assert.Equal(13, tok.VocabSize);
        Assert.Equal(ChatFamily.Llama3, tok.ChatFormat.Family);
        var prompt = tok.ApplyChatTemplate([new ChatTurn("user", "Hi")]);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
        // The rendered prompt already has its BOS: encode it without special tokens. (Characters missing from this
        // tiny vocabulary, such as the role names, are dropped, as Hugging Face does without an unknown token.)
        Assert.Equal([5, 7, 8, 3, 9, 7, 1, 8], tok.Encode(prompt, addSpecialTokens: false)); // the 1 is the "i" of "assistant"
    }

    [Fact]
    public void Added_token_flags_strip_whitespace_and_respect_word_boundaries()
    {
        var tok = HfTokenizer.Load(_dir.Directory);
        Assert.Equal([5, 3, 10, 4], tok.Encode("Hi <|mask|> Hi"));           // lstrip: the space before <|mask|> goes with it
        Assert.Equal([3, 11, 3], tok.Encode("Hi<|pad|>   Hi", false));        // rstrip: the spaces after <|pad|> go with it
        Assert.Equal([3], tok.Encode("Hi", false));                           // "i" (single_word) inside a word: not matched
        Assert.Equal([0, 2, 12], tok.Encode("H i", false));                   // ... but matched as a word of its own
        Assert.Equal([4], tok.Encode(" Hi", false));                          // ignore_merges: "ĠHi" is in the vocabulary
    }

    [Fact]
    public void Llama_tokenizer_class_flags_rebuild_the_template()
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir.Directory, "tokenizer_config.json")))!.AsObject();
        config["tokenizer_class"] = "LlamaTokenizerFast";
        config["add_bos_token"] = false;
        config["add_eos_token"] = true;
        _dir.Write("tokenizer_config.json", config);
        var tok = HfTokenizer.Load(_dir.Directory);
        Assert.Equal([3, 9], tok.Encode("Hi"));
    }

    [Fact]
    public void Broken_json_names_the_file()
    {
        _dir.WriteText("generation_config.json", "{ not json");
        var e = Assert.Throws<ModelLoadException>(() => HfTokenizer.Load(_dir.Directory));
        Assert.Contains("generation_config.json", e.Message);
    }
}
