using Xunit;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Tests.Tokenization;

public sealed class BuiltinTokenizerTests
{
    private static readonly Lazy<ITextTokenizer> Shared = new(BuiltinTokenizer.Create);

    private static ITextTokenizer Tok => Shared.Value;

    [Fact]
    public void Describes_gpt2()
    {
        Assert.Equal(50257, Tok.VocabSize);
        Assert.Null(Tok.BosTokenId);
        Assert.Equal([50256], Tok.EosTokenIds);
    }

    [Theory]
    [InlineData("Hello world", new[] { 15496, 995 })]
    [InlineData("Hello", new[] { 15496 })]
    [InlineData(" Hello", new[] { 18435 })]
    [InlineData("<|endoftext|>", new[] { 50256 })]
    [InlineData("", new int[0])]
    public void Encodes_as_gpt2(string text, int[] ids)
    {
        Assert.Equal(ids, Tok.Encode(text));
        Assert.Equal(ids, Tok.Encode(text, addSpecialTokens: false)); // GPT-2 adds nothing
    }

    [Theory]
    [InlineData("The quick brown fox jumps over the lazy dog.")]
    [InlineData("emoji 😀🎉 and CJK 中文字符 and accents é à ü, tabs\tand\nnewlines\n\n  spaces   ")]
    [InlineData("数学: ∑ᵢ xᵢ² ≥ 0 — ok?")]
    public void Round_trips(string text)
    {
        var ids = Tok.Encode(text);
        Assert.Equal(text, Tok.Decode(ids));
    }

    [Fact]
    public void Decode_skips_end_of_text_unless_asked_to_keep_it()
    {
        var ids = Tok.Encode("Hi<|endoftext|> there");
        Assert.Contains(50256, ids);
        Assert.Equal("Hi there", Tok.Decode(ids));
        Assert.Equal("Hi<|endoftext|> there", Tok.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void Partial_utf8_decodes_to_a_replacement_character()
    {
        var ids = Tok.Encode("😀");
        Assert.True(ids.Length > 1, "GPT-2 splits this emoji into byte tokens");
        Assert.EndsWith("\uFFFD", Tok.Decode(ids.AsSpan(0, ids.Length - 1)));
    }

    [Fact]
    public void Chat_template_is_chatml_like_text()
    {
        var text = Tok.ApplyChatTemplate([new ChatTurn("system", "Be brief."), new ChatTurn("user", "Hi")]);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", text);
        Assert.EndsWith("Hi<|im_end|>\n", Tok.ApplyChatTemplate([new ChatTurn("user", "Hi")], addGenerationPrompt: false));
    }
}
