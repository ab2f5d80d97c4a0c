using Xunit;
using System.Text;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Tests.Tokenization;

public sealed class IncrementalDetokenizerTests
{
    private static readonly Lazy<ITextTokenizer> Gpt2 = new(BuiltinTokenizer.Create);

    [Fact]
    public void Holds_back_a_split_character_until_it_is_complete()
    {
        var tok = Gpt2.Value;
        var ids = tok.Encode("a😀b");
        var d = new IncrementalDetokenizer(tok, []);
        var pieces = ids.Select(d.Push).ToList();
        pieces.Add(d.Flush());
        Assert.Equal("a😀b", string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        Assert.Contains("😀", pieces);
    }

    [Fact]
    public void Random_sequences_concatenate_to_the_full_decode()
    {
        var tok = Gpt2.Value;
        var rng = new Random(12345);
        // Token pool biased towards byte tokens that split multibyte characters.
        var pool = tok.Encode("😀🎉中文字符 éàü ∑ᵢ ok the cat <|endoftext|>").Distinct().Concat(Enumerable.Range(0, 256)).ToArray();
        for (var trial = 0; trial < 300; trial++)
        {
            var prompt = Enumerable.Range(0, rng.Next(0, 10)).Select(_ => rng.Next(2) == 0 ? pool[rng.Next(pool.Length)] : rng.Next(50257)).ToArray();
            var output = Enumerable.Range(0, rng.Next(1, 40)).Select(_ => rng.Next(3) > 0 ? pool[rng.Next(pool.Length)] : rng.Next(50257)).ToArray();
            var d = new IncrementalDetokenizer(tok, prompt);
            var sb = new StringBuilder();
            foreach (var id in output)
            {
                sb.Append(d.Push(id));
            }

            sb.Append(d.Flush());
            Assert.Equal(tok.Decode(output), sb.ToString());
        }
    }

    [Fact]
    public void Flush_releases_an_unfinished_character_as_the_decode_does()
    {
        var tok = Gpt2.Value;
        var ids = tok.Encode("😀");
        var d = new IncrementalDetokenizer(tok, tok.Encode("Hello"));
        Assert.Equal("", d.Push(ids[0]));
        Assert.Equal(tok.Decode(ids.AsSpan(0, 1)), d.Flush());
        Assert.Equal("", d.Flush());
    }
}
