using System.Text.Json.Nodes;
using OrleansInference.Native.Tokenization;
using Xunit;
using static OrleansInference.Native.Tests.Tokenization.TokenizerFiles;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>A small Llama-2-style tokenizer (▁ for spaces, &lt;0xNN&gt; byte fallback), ids worked out by hand.</summary>
public sealed class SentencePieceHfTokenizerTests : IDisposable
{
    // 0 <unk>, 1 <s>, 2 </s>, 3..258 <0x00>..<0xFF>, then:
    private static readonly string[] Pieces =
    [
        "▁", "h", "e", "l", "o", "▁h", "ll", "▁he", "▁hell", "▁hello", // 259..268
        "w", "r", "d", "▁w", "or", "▁wor", "ld", "▁world", "中", // 269..277
    ];

    private static readonly string[] Merges = ["▁ h", "l l", "▁h e", "▁he ll", "▁hell o", "▁ w", "o r", "▁w or", "l d", "▁wor ld"];

    private readonly List<TokenizerFiles> _dirs = [];

    private static JsonObject SpVocab()
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        tokens.AddRange(Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>"));
        tokens.AddRange(Pieces);
        return Vocab([.. tokens]);
    }

    private static JsonObject LegacyNormalizer() => new()
    {
        ["type"] = "Sequence",
        ["normalizers"] = new JsonArray(
            new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
    };

    private static JsonObject LegacyDecoder() => new()
    {
        ["type"] = "Sequence",
        ["decoders"] = new JsonArray(
            new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "▁" }, ["content"] = " " },
            new JsonObject { ["type"] = "ByteFallback" },
            new JsonObject { ["type"] = "Fuse" },
            new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
    };

    private static JsonObject Metaspace(string scheme, bool split) => new()
    {
        ["type"] = "Metaspace", ["replacement"] = "▁", ["prepend_scheme"] = scheme, ["split"] = split,
    };

    private static JsonArray SpecialAdded() => new(Added(0, "<unk>"), Added(1, "<s>"), Added(2, "</s>"));

    internal HfTokenizer Legacy(bool byteFallback = true, bool fuseUnk = true)
    {
        var dir = new TokenizerFiles();
        _dirs.Add(dir);
        dir.Write("tokenizer.json", Tokenizer(Bpe(SpVocab(), Merges, byteFallback, "<unk>", fuseUnk), SpecialAdded(), LegacyNormalizer(), null, BosTemplate("<s>", 1), LegacyDecoder()));
        return HfTokenizer.Load(dir.Directory);
    }

    private HfTokenizer WithMetaspace(string scheme, bool split, bool metaspaceDecoder)
    {
        var dir = new TokenizerFiles();
        _dirs.Add(dir);
        dir.Write("tokenizer.json", Tokenizer(Bpe(SpVocab(), Merges, true, "<unk>", true), SpecialAdded(), null, Metaspace(scheme, split),
            BosTemplate("<s>", 1), metaspaceDecoder ? Metaspace(scheme, split) : LegacyDecoder()));
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
    public void Legacy_normalizer_prepends_and_merges_across_the_whole_text()
    {
        var tok = Legacy();
        // "▁hello▁world": ▁h(0) ll(1) ▁he(2) ▁hell(3) ▁hello(4) ▁w(5) or(6) ▁wor(7) ld(8) ▁world(9).
        Assert.Equal([1, 268, 276], tok.Encode("hello world"));
        Assert.Equal([268, 276], tok.Encode("hello world", addSpecialTokens: false));
        Assert.Equal("hello world", tok.Decode([1, 268, 276]));
        Assert.Equal("<s> hello world", tok.Decode([1, 268, 276], skipSpecialTokens: false));
        Assert.Equal(1, tok.BosTokenId);
    }

    [Fact]
    public void Unknown_characters_fall_back_to_bytes_and_decode_back()
    {
        var tok = Legacy();
        // "▁hi▁中文": 'i' and 文 (E6 96 87) are not pieces → <0x69>, <0xE6> <0x96> <0x87>.
        int[] expected = [264, 3 + 0x69, 259, 277, 3 + 0xE6, 3 + 0x96, 3 + 0x87];
        Assert.Equal(expected, tok.Encode("hi 中文", addSpecialTokens: false));
        Assert.Equal("hi 中文", tok.Decode(expected));
        // An unfinished character: one U+FFFD per byte, as Hugging Face's ByteFallback decoder does.
        Assert.Equal("\uFFFD\uFFFD", tok.Decode([3 + 0xE6, 3 + 0x96]));
    }

    [Fact]
    public void Without_byte_fallback_unknowns_become_unk_fused_or_not()
    {
        Assert.Equal([264, 0], Legacy(byteFallback: false).Encode("hxyz", addSpecialTokens: false));
        Assert.Equal([264, 0, 0, 0], Legacy(byteFallback: false, fuseUnk: false).Encode("hxyz", addSpecialTokens: false));
    }

    [Fact]
    public void Legacy_normalizer_runs_per_segment_between_added_tokens()
    {
        // Each stretch between added tokens is normalized on its own, so "world" gets its own ▁.
        Assert.Equal([1, 268, 1, 276], Legacy().Encode("hello<s>world"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void Metaspace_first_prepends_only_at_the_start_of_the_input(bool split, bool metaspaceDecoder)
    {
        var tok = WithMetaspace("first", split, metaspaceDecoder);
        Assert.Equal([1, 268, 276], tok.Encode("hello world"));
        // After a leading special token nothing is prepended: h e ll o (no merge "h e").
        Assert.Equal([1, 1, 260, 261, 265, 263], tok.Encode("<s>hello"));
        Assert.Equal("hello world", tok.Decode([268, 276]));
    }

    [Fact]
    public void Metaspace_always_prepends_to_every_segment()
    {
        var tok = WithMetaspace("always", split: true, metaspaceDecoder: true);
        Assert.Equal([1, 1, 268], tok.Encode("<s>hello"));
    }

    [Fact]
    public void Round_trips_text_with_emoji_and_cjk()
    {
        var tok = Legacy();
        foreach (var text in new[] { "hello 😀 world", "中文 and 日本語", "tabs\tand\nnewlines", "  two leading spaces" })
        {
            Assert.Equal(text, tok.Decode(tok.Encode(text)));
        }
    }

    [Fact]
    public void Incremental_detokenizer_concatenates_to_the_decode()
    {
        var tok = Legacy();
        var rng = new Random(99);
        var pool = tok.Encode("hello world 中文 😀 éà", addSpecialTokens: false).Concat([1, 2, 259, 260, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD, 3 + 0xF0]).ToArray();
        for (var trial = 0; trial < 300; trial++)
        {
            var output = Enumerable.Range(0, rng.Next(1, 30)).Select(_ => rng.Next(4) > 0 ? pool[rng.Next(pool.Length)] : rng.Next(tok.VocabSize)).ToArray();
            var d = new IncrementalDetokenizer(tok, []);
            var text = string.Concat(output.Select(d.Push)) + d.Flush();
            Assert.Equal(tok.Decode(output), text);

            // With a prompt tail, the text is what the output adds after the prompt (a leading ▁ is a space).
            var tail = tok.Encode("hello", addSpecialTokens: false);
            var withTail = new IncrementalDetokenizer(tok, tail);
            var continued = string.Concat(output.Select(withTail.Push)) + withTail.Flush();
            Assert.Equal(tok.Decode([.. tail, .. output])[tok.Decode(tail).Length..], continued);
        }
    }
}
