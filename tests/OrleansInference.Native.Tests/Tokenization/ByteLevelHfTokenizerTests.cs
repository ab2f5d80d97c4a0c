using System.Text.Json.Nodes;
using OrleansInference.Native.Tokenization;
using Xunit;
using static OrleansInference.Native.Tests.Tokenization.TokenizerFiles;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>A small GPT-2-style byte-level BPE whose ids are worked out by hand below.</summary>
public sealed class ByteLevelHfTokenizerTests : IDisposable
{
    // ids:                 0    1    2    3    4    5    6    7    8     9     10      11    12    13      14       15    16   17   18
    private static readonly string[] Tokens = ["h", "e", "l", "o", "w", "r", "d", "Ġ", "he", "ll", "hell", "Ġw", "or", "Ġwor", "hello", "ld", "!", "Ã", "©",
        // 19    20    21   22   23   24   25
        "Ã©", "hel", "1", "2", "3", "4", "34"];

    private static readonly string[] Merges = ["h e", "l l", "he ll", "Ġ w", "o r", "Ġw or", "hell o", "l d", "Ã ©", "3 4"];

    private const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly List<TokenizerFiles> _dirs = [];

    private HfTokenizer Make(bool ignoreMerges = false, JsonNode? preTokenizer = null, bool template = true, bool tupleMerges = true)
    {
        var dir = new TokenizerFiles();
        _dirs.Add(dir);
        var added = new JsonArray(Added(26, "<|end|>"), Added(27, "<|bos|>"), Added(28, "<tool>", special: false));
        dir.Write("tokenizer.json", Tokenizer(
            Bpe(Vocab(Tokens), Merges, ignoreMerges: ignoreMerges, tupleMerges: tupleMerges),
            added,
            normalizer: null,
            preTokenizer ?? ByteLevel(),
            template ? new JsonObject { ["type"] = "Sequence", ["processors"] = new JsonArray(ByteLevel(), BosTemplate("<|bos|>", 27)) } : ByteLevel(),
            ByteLevel()));
        return HfTokenizer.Load(dir.Directory);
    }

    public void Dispose()
    {
        foreach (var d in _dirs)
        {
            d.Dispose();
        }
    }

    [Fact]
    public void Merges_apply_by_rank_within_regex_words()
    {
        var tok = Make();
        // "hello": h e l l o → he (rank 0) → ll (1) → hell (2) → hello (6).
        // " world": Ġ w o r l d → Ġw (3) → or (4) → Ġwor (5) → ld (7); no merge joins Ġwor and ld.
        Assert.Equal([27, 14, 13, 15], tok.Encode("hello world"));
        Assert.Equal([14, 13, 15], tok.Encode("hello world", addSpecialTokens: false));
        Assert.Equal("hello world", tok.Decode([27, 14, 13, 15]));
        Assert.Equal(27, tok.BosTokenId);
        Assert.Equal(29, tok.VocabSize);
    }

    [Fact]
    public void Equal_ranks_merge_leftmost_first()
    {
        Assert.Equal([9, 2], Make().Encode("lll", addSpecialTokens: false));
    }

    [Fact]
    public void Legacy_string_merges_read_the_same()
    {
        Assert.Equal([27, 14, 13, 15], Make(tupleMerges: false).Encode("hello world"));
    }

    [Fact]
    public void Ignore_merges_takes_whole_words_from_the_vocabulary()
    {
        // "hel" is in the vocabulary but no merge builds it: h e → he, then he + l has no merge.
        Assert.Equal([8, 2], Make().Encode("hel", addSpecialTokens: false));
        Assert.Equal([20], Make(ignoreMerges: true).Encode("hel", addSpecialTokens: false));
    }

    [Fact]
    public void Added_tokens_are_matched_first_and_never_split()
    {
        var tok = Make();
        Assert.Equal([14, 26, 13, 15, 28], tok.Encode("hello<|end|> world<tool>", addSpecialTokens: false));
        // Special tokens are dropped by default; non-special added tokens stay.
        Assert.Equal("hello world<tool>", tok.Decode([14, 26, 13, 15, 28]));
        Assert.Equal("hello<|end|> world<tool>", tok.Decode([14, 26, 13, 15, 28], skipSpecialTokens: false));
    }

    [Fact]
    public void Bytes_map_through_the_byte_level_alphabet()
    {
        var tok = Make();
        // é = C3 A9 → 'Ã' '©' → merged by "Ã ©".
        Assert.Equal([19], tok.Encode("é", addSpecialTokens: false));
        Assert.Equal("é", tok.Decode([19]));
        Assert.Equal("\uFFFD", tok.Decode([17])); // a lone lead byte
        Assert.Equal("é", tok.Decode([17, 18]));
    }

    [Fact]
    public void Split_regex_pre_tokenizer_isolates_three_digit_groups()
    {
        JsonObject Llama3() => new()
        {
            ["type"] = "Sequence",
            ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Llama3Pattern }, ["behavior"] = "Isolated", ["invert"] = false },
                ByteLevel(useRegex: false)),
        };
        // GPT-2's regex keeps "1234" one word, so "3 4" merges; Llama 3's splits it as "123" + "4".
        Assert.Equal([21, 22, 25], Make().Encode("1234", addSpecialTokens: false));
        Assert.Equal([21, 22, 23, 24], Make(preTokenizer: Llama3()).Encode("1234", addSpecialTokens: false));
        Assert.Equal([27, 14, 13, 15], Make(preTokenizer: Llama3()).Encode("hello world"));
    }

    [Fact]
    public void Unsupported_model_types_name_the_file()
    {
        using var dir = new TokenizerFiles();
        dir.Write("tokenizer.json", Tokenizer(
            new JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["vocab"] = Vocab("[UNK]", "a") },
            [], null, null, null, null));
        var e = Assert.Throws<ModelLoadException>(() => HfTokenizer.Load(dir.Directory));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("WordPiece", e.Message);

        using var empty = new TokenizerFiles();
        Assert.Contains("tokenizer.json", Assert.Throws<ModelLoadException>(() => HfTokenizer.Load(empty.Directory)).Message);
    }

    [Fact]
    public void Merges_with_unknown_tokens_are_refused()
    {
        using var dir = new TokenizerFiles();
        dir.Write("tokenizer.json", Tokenizer(Bpe(Vocab("a", "b"), ["a b"]), [], null, ByteLevel(), null, ByteLevel()));
        var e = Assert.Throws<ModelLoadException>(() => HfTokenizer.Load(dir.Directory));
        Assert.Contains("'ab'", e.Message);
    }
}
