namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>One entry of tokenizer.json's <c>added_tokens</c>: matched in the text before the model runs and never split.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Content">Its text.</param>
/// <param name="SingleWord">Only matches when not inside a word.</param>
/// <param name="LStrip">Absorbs whitespace on its left.</param>
/// <param name="RStrip">Absorbs whitespace on its right.</param>
/// <param name="Normalized">Matched against the normalized text (with its content normalized too).</param>
/// <param name="Special">Skipped by decode with <c>skip_special_tokens</c>.</param>
internal sealed record AddedToken(int Id, string Content, bool SingleWord, bool LStrip, bool RStrip, bool Normalized, bool Special);

/// <summary>A stretch of text: either an added token's match (<see cref="TokenId"/> ≥ 0) or text still to tokenize.</summary>
internal readonly record struct TextSegment(int Start, int End, int TokenId)
{
    public bool IsToken => TokenId >= 0;
}

/// <summary>
/// Finds added tokens in text as Hugging Face's added vocabulary does: leftmost-longest matches, with the
/// single_word, lstrip and rstrip rules.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _byFirstChar;

    /// <param name="tokens">Tokens with the text each is matched as.</param>
    public AddedTokenMatcher(IEnumerable<(string Pattern, AddedToken Token)> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Pattern.Length > 0)
            .GroupBy(t => t.Pattern[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Pattern.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    /// <summary>Splits text into added-token matches and the text between them (empty stretches omitted).</summary>
    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        var consumed = 0; // end of the previous segment
        var i = 0;
        while (i < text.Length)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates) || Match(text, i, candidates) is not { } found)
            {
                i++;
                continue;
            }

            var (pattern, token) = found;
            var start = i;
            var stop = i + pattern.Length;
            if (token.SingleWord)
            {
                var startOk = start == 0 || !IsWordChar(text, start - 1, before: true);
                var stopOk = stop == text.Length || !IsWordChar(text, stop, before: false);
                if (!startOk || !stopOk)
                {
                    i = stop; // matching resumes after the discarded match, as the Aho-Corasick iteration does
                    continue;
                }
            }

            if (token.LStrip)
            {
                var s = start;
                while (s > consumed && char.IsWhiteSpace(text[s - 1]))
                {
                    s--;
                }

                start = s;
            }

            if (token.RStrip)
            {
                while (stop < text.Length && char.IsWhiteSpace(text[stop]))
                {
                    stop++;
                }
            }

            if (consumed < start)
            {
                segments.Add(new TextSegment(consumed, start, -1));
            }

            segments.Add(new TextSegment(start, stop, token.Id));
            consumed = stop;
            i = stop;
        }

        if (consumed < text.Length)
        {
            segments.Add(new TextSegment(consumed, text.Length, -1));
        }

        return segments;
    }

    private static (string, AddedToken)? Match(string text, int at, (string Pattern, AddedToken Token)[] candidates)
    {
        foreach (var c in candidates)
        {
            if (at + c.Pattern.Length <= text.Length && string.CompareOrdinal(text, at, c.Pattern, 0, c.Pattern.Length) == 0)
            {
                return c;
            }
        }

        return null;
    }

    /// <summary>Regex <c>\w</c> on the character just before (or at) a position, surrogate pairs included.</summary>
    private static bool IsWordChar(string text, int index, bool before)
    {
        int codePoint;
        if (before && index > 0 && char.IsLowSurrogate(text[index]) && char.IsHighSurrogate(text[index - 1]))
        {
            codePoint = char.ConvertToUtf32(text[index - 1], text[index]);
        }
        else if (!before && char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]))
        {
            codePoint = char.ConvertToUtf32(text[index], text[index + 1]);
        }
        else
        {
            codePoint = text[index];
        }

        var category = System.Globalization.CharUnicodeInfo.GetUnicodeCategory(codePoint);
        return category is System.Globalization.UnicodeCategory.UppercaseLetter
            or System.Globalization.UnicodeCategory.LowercaseLetter
            or System.Globalization.UnicodeCategory.TitlecaseLetter
            or System.Globalization.UnicodeCategory.ModifierLetter
            or System.Globalization.UnicodeCategory.OtherLetter
            or System.Globalization.UnicodeCategory.NonSpacingMark
            or System.Globalization.UnicodeCategory.SpacingCombiningMark
            or System.Globalization.UnicodeCategory.EnclosingMark
            or System.Globalization.UnicodeCategory.DecimalDigitNumber
            or System.Globalization.UnicodeCategory.LetterNumber
            or System.Globalization.UnicodeCategory.ConnectorPunctuation;
    }
}
