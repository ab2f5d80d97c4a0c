using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>
/// A pre-tokenizer regex written for Oniguruma (what Hugging Face tokenizers use), run on .NET's engine.
/// Two differences are bridged: possessive quantifiers (<c>*+</c>, <c>++</c>, <c>?+</c>, <c>{n,m}+</c>) become atomic
/// groups, and, because .NET matches UTF-16 code units while Oniguruma matches code points, characters outside the
/// BMP are matched as a stand-in BMP character of the same Unicode category (so <c>\p{L}</c>, <c>\p{N}</c> and
/// <c>[^\s\p{L}\p{N}]</c> treat an emoji or a supplementary-plane letter as one character, as Oniguruma does).
/// </summary>
internal sealed class OnigRegex
{
    private readonly Regex _regex;

    public OnigRegex(string pattern, string file)
    {
        try
        {
            _regex = new Regex(ToDotNet(pattern), RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }
        catch (ArgumentException e)
        {
            throw new ModelLoadException($"{file}: the pre-tokenizer regex '{pattern}' is not supported: {e.Message}", e);
        }
    }

    /// <summary>A regex matching a literal string.</summary>
    public static OnigRegex Literal(string text, string file) => new(Regex.Escape(text), file);

    /// <summary>Non-overlapping matches as (start, length) in UTF-16 units of <paramref name="text"/>.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (!HasSurrogates(text))
        {
            for (var m = _regex.Match(text); m.Success; m = m.NextMatch())
            {
                if (m.Length > 0)
                {
                    result.Add((m.Index, m.Length));
                }
            }

            return result;
        }

        // Map each supplementary code point to one stand-in char; remember where each mapped char came from.
        var mapped = new StringBuilder(text.Length);
        var origin = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length; i++)
        {
            origin.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                mapped.Append(StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i++;
            }
            else
            {
                mapped.Append(text[i]);
            }
        }

        origin.Add(text.Length);
        for (var m = _regex.Match(mapped.ToString()); m.Success; m = m.NextMatch())
        {
            if (m.Length > 0)
            {
                var start = origin[m.Index];
                result.Add((start, origin[m.Index + m.Length] - start));
            }
        }

        return result;
    }

    private static bool HasSurrogates(string text)
    {
        foreach (var c in text)
        {
            if (char.IsSurrogate(c))
            {
                return true;
            }
        }

        return false;
    }

    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u01C4',
        UnicodeCategory.LowercaseLetter => '\u0250',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u05D0',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.SpaceSeparator => '\u2000',
        UnicodeCategory.LineSeparator => '\u2028',
        UnicodeCategory.ParagraphSeparator => '\u2029',
        UnicodeCategory.Format => '\u2060',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u2039',
        UnicodeCategory.FinalQuotePunctuation => '\u203A',
        UnicodeCategory.OtherPunctuation => '\u203B',
        UnicodeCategory.MathSymbol => '\u2295',
        UnicodeCategory.CurrencySymbol => '\u20A0',
        UnicodeCategory.ModifierSymbol => '\u02C2',
        UnicodeCategory.OtherSymbol => '\u2600',
        _ => '\u0378', // unassigned
    };

    /// <summary>Rewrites possessive quantifiers as atomic groups; everything else is shared syntax.</summary>
    internal static string ToDotNet(string pattern)
    {
        var output = new StringBuilder(pattern.Length + 16);
        var groupStarts = new Stack<int>();
        var lastAtomStart = -1;
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            switch (c)
            {
                case '\\':
                {
                    lastAtomStart = output.Length;
                    var end = EscapeEnd(pattern, i);
                    output.Append(pattern, i, end - i);
                    i = end;
                    continue;
                }

                case '[':
                {
                    lastAtomStart = output.Length;
                    var end = ClassEnd(pattern, i);
                    output.Append(pattern, i, end - i);
                    i = end;
                    continue;
                }

                case '(':
                    groupStarts.Push(output.Length);
                    output.Append(c);
                    i++;
                    lastAtomStart = -1;
                    continue;
                case ')':
                    output.Append(c);
                    i++;
                    lastAtomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    continue;
                case '*' or '+' or '?' or '{':
                {
                    var end = c == '{' ? QuantifierBraceEnd(pattern, i) : i + 1;
                    if (end < 0 || lastAtomStart < 0)
                    {
                        output.Append(c); // a literal brace, or a quantifier we do not touch
                        i++;
                        continue;
                    }

                    output.Append(pattern, i, end - i);
                    i = end;
                    if (i < pattern.Length && pattern[i] == '+')
                    {
                        output.Insert(lastAtomStart, "(?>").Append(')');
                        i++;
                    }
                    else if (i < pattern.Length && pattern[i] == '?')
                    {
                        output.Append('?');
                        i++;
                    }

                    lastAtomStart = -1;
                    continue;
                }

                default:
                    lastAtomStart = output.Length;
                    output.Append(c);
                    i++;
                    continue;
            }
        }

        return output.ToString();
    }

    private static int EscapeEnd(string p, int i)
    {
        if (i + 1 >= p.Length)
        {
            return p.Length;
        }

        var kind = p[i + 1];
        if ((kind is 'p' or 'P' or 'x' or 'u') && i + 2 < p.Length && p[i + 2] == '{')
        {
            var close = p.IndexOf('}', i + 2);
            return close < 0 ? p.Length : close + 1;
        }

        return i + 2;
    }

    private static int ClassEnd(string p, int i)
    {
        var depth = 0;
        var j = i;
        while (j < p.Length)
        {
            var c = p[j];
            if (c == '\\')
            {
                j += 2;
                continue;
            }

            if (c == '[')
            {
                depth++;
                j++;
                if (j < p.Length && p[j] == '^')
                {
                    j++;
                }

                if (j < p.Length && p[j] == ']')
                {
                    j++; // a leading ']' is literal
                }

                continue;
            }

            if (c == ']')
            {
                depth--;
                j++;
                if (depth == 0)
                {
                    return j;
                }

                continue;
            }

            j++;
        }

        return p.Length;
    }

    private static int QuantifierBraceEnd(string p, int i)
    {
        var close = p.IndexOf('}', i);
        if (close < 0)
        {
            return -1;
        }

        var inner = p.AsSpan(i + 1, close - i - 1);
        foreach (var ch in inner)
        {
            if (!char.IsAsciiDigit(ch) && ch != ',')
            {
                return -1;
            }
        }

        return inner.Length == 0 ? -1 : close + 1;
    }
}
