using OrleansInference.Native.Tokenization.HuggingFace;
using Xunit;

namespace OrleansInference.Native.Tests.Tokenization;

public sealed class OnigRegexTests
{
    private const string Llama3Pattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static string[] Pieces(string pattern, string text) =>
        new OnigRegex(pattern, "test").Matches(text).Select(m => text.Substring(m.Start, m.Length)).ToArray();

    [Fact]
    public void Supplementary_characters_count_as_one_character_of_their_category()
    {
        // Oniguruma sees 😀 as one symbol, so "[^\r\n\p{L}\p{N}]?\p{L}+" takes it together with the letters.
        Assert.Equal(["😀abc", " 𝐀𝐁"], Pieces(Llama3Pattern, "😀abc 𝐀𝐁"));
        // A supplementary letter (𝐀, U+1D400) is \p{L}; a supplementary digit (𝟏, U+1D7CF) is \p{N}.
        Assert.Equal(["x𝐀y", "𝟏𝟐𝟑", "𝟒"], Pieces(Llama3Pattern, "x𝐀y𝟏𝟐𝟑𝟒"));
    }

    [Fact]
    public void Possessive_quantifiers_become_atomic_groups()
    {
        Assert.Equal(@"(?>\p{L}++)".Replace("++", "+"), OnigRegex.ToDotNet(@"\p{L}++"));
        Assert.Equal(@"(?>[a-z]*)b", OnigRegex.ToDotNet(@"[a-z]*+b"));
        Assert.Equal(@"(?>(ab)?)c", OnigRegex.ToDotNet(@"(ab)?+c"));
        Assert.Equal(@"(?>x{1,3})", OnigRegex.ToDotNet(@"x{1,3}+"));
        Assert.Equal(@"a+?b*(?i:c)", OnigRegex.ToDotNet(@"a+?b*(?i:c)"));
        // Atomic: "a*+a" can never match, as in Oniguruma.
        Assert.Empty(Pieces(@"a*+a", "aaa"));
    }
}
