namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>A stretch of normalized text on its way to the model; <see cref="AtStart"/>: it begins the input.</summary>
internal readonly record struct Piece(string Text, bool AtStart);

/// <summary>A tokenizer.json pre-tokenizer: splits (and may rewrite) pieces into words for the model.</summary>
internal interface IPreTokenizer
{
    void PreTokenize(List<Piece> pieces);
}

/// <summary>How a split treats the matched delimiters (Hugging Face's <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

/// <summary>Shared splitting machinery: (offset, length, isMatch) runs covering a piece, then the behaviour.</summary>
internal static class Splitter
{
    public static void SplitAll(List<Piece> pieces, Func<string, List<(int Start, int Length)>> find, SplitBehavior behavior, bool invert)
    {
        var output = new List<Piece>(pieces.Count * 2);
        foreach (var piece in pieces)
        {
            Split(piece, find(piece.Text), behavior, invert, output);
        }

        pieces.Clear();
        pieces.AddRange(output);
    }

    public static void Split(Piece piece, List<(int Start, int Length)> matches, SplitBehavior behavior, bool invert, List<Piece> output)
    {
        var text = piece.Text;
        if (text.Length == 0)
        {
            return;
        }

        // Runs covering the text: (start, end, isMatch).
        var runs = new List<(int Start, int End, bool IsMatch)>(matches.Count * 2 + 1);
        var prev = 0;
        foreach (var (start, length) in matches)
        {
            if (prev != start)
            {
                runs.Add((prev, start, invert));
            }

            runs.Add((start, start + length, !invert));
            prev = start + length;
        }

        if (prev != text.Length)
        {
            runs.Add((prev, text.Length, invert));
        }

        var spans = new List<(int Start, int End, bool Remove)>(runs.Count);
        switch (behavior)
        {
            case SplitBehavior.Isolated:
                spans.AddRange(runs.Select(r => (r.Start, r.End, false)));
                break;
            case SplitBehavior.Removed:
                spans.AddRange(runs.Select(r => (r.Start, r.End, r.IsMatch)));
                break;
            case SplitBehavior.Contiguous:
            {
                var previousMatch = false;
                foreach (var r in runs)
                {
                    if (r.IsMatch == previousMatch && spans.Count > 0)
                    {
                        spans[^1] = (spans[^1].Start, r.End, false);
                    }
                    else
                    {
                        spans.Add((r.Start, r.End, false));
                    }

                    previousMatch = r.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithPrevious:
            {
                var previousMatch = false;
                foreach (var r in runs)
                {
                    if (r.IsMatch && !previousMatch && spans.Count > 0)
                    {
                        spans[^1] = (spans[^1].Start, r.End, false);
                    }
                    else
                    {
                        spans.Add((r.Start, r.End, false));
                    }

                    previousMatch = r.IsMatch;
                }

                break;
            }

            case SplitBehavior.MergedWithNext:
            {
                var previousMatch = false;
                for (var k = runs.Count - 1; k >= 0; k--)
                {
                    var r = runs[k];
                    if (r.IsMatch && !previousMatch && spans.Count > 0)
                    {
                        spans[^1] = (r.Start, spans[^1].End, false);
                    }
                    else
                    {
                        spans.Add((r.Start, r.End, false));
                    }

                    previousMatch = r.IsMatch;
                }

                spans.Reverse();
                break;
            }
        }

        foreach (var (start, end, remove) in spans)
        {
            if (!remove && end > start)
            {
                output.Add(new Piece(text[start..end], piece.AtStart && start == 0));
            }
        }
    }
}

/// <summary>Applies pre-tokenizers in order.</summary>
internal sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> steps) : IPreTokenizer
{
    public void PreTokenize(List<Piece> pieces)
    {
        foreach (var step in steps)
        {
            step.PreTokenize(pieces);
        }
    }
}

/// <summary><c>Split</c>: a literal or regex pattern with a delimiter behaviour (Llama 3 and Qwen2 use it with Isolated).</summary>
internal sealed class SplitPreTokenizer(OnigRegex pattern, SplitBehavior behavior, bool invert) : IPreTokenizer
{
    public void PreTokenize(List<Piece> pieces) => Splitter.SplitAll(pieces, pattern.Matches, behavior, invert);
}

/// <summary>
/// <c>ByteLevel</c>: optionally a leading space per piece, optionally GPT-2's word regex, then every piece's UTF-8
/// bytes mapped to the byte-level alphabet.
/// </summary>
internal sealed class ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex, OnigRegex gpt2Regex) : IPreTokenizer
{
    /// <summary>GPT-2's pre-tokenization pattern.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public void PreTokenize(List<Piece> pieces)
    {
        if (addPrefixSpace)
        {
            for (var i = 0; i < pieces.Count; i++)
            {
                if (!pieces[i].Text.StartsWith(' '))
                {
                    pieces[i] = pieces[i] with { Text = " " + pieces[i].Text };
                }
            }
        }

        if (useRegex)
        {
            Splitter.SplitAll(pieces, gpt2Regex.Matches, SplitBehavior.Isolated, invert: false);
        }

        for (var i = 0; i < pieces.Count; i++)
        {
            pieces[i] = pieces[i] with { Text = ByteLevelAlphabet.Encode(pieces[i].Text) };
        }
    }
}

/// <summary>When <c>Metaspace</c> adds its replacement character in front of a piece.</summary>
internal enum PrependScheme
{
    Always,
    First,
    Never,
}

/// <summary>
/// <c>Metaspace</c> (SentencePiece style): spaces become "▁", a "▁" is prepended (to every piece, to the piece that
/// starts the input, or never), then optionally split before each "▁".
/// </summary>
internal sealed class MetaspacePreTokenizer(char replacement, PrependScheme scheme, bool split) : IPreTokenizer
{
    public void PreTokenize(List<Piece> pieces)
    {
        var rep = replacement.ToString();
        for (var i = 0; i < pieces.Count; i++)
        {
            var p = pieces[i];
            var text = p.Text.Replace(" ", rep, StringComparison.Ordinal);
            var prepend = scheme switch
            {
                PrependScheme.Always => !text.StartsWith(replacement),
                PrependScheme.First => !text.StartsWith(replacement) && p.AtStart,
                _ => false,
            };
            pieces[i] = p with { Text = prepend ? rep + text : text };
        }

        if (split)
        {
            Splitter.SplitAll(pieces, text => CharMatches(text, replacement), SplitBehavior.MergedWithNext, invert: false);
        }
    }

    internal static List<(int, int)> CharMatches(string text, char c)
    {
        var list = new List<(int, int)>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == c)
            {
                list.Add((i, 1));
            }
        }

        return list;
    }
}

/// <summary><c>Digits</c>: digits apart from the rest, each alone or as runs.</summary>
internal sealed class DigitsPreTokenizer(bool individual) : IPreTokenizer
{
    public void PreTokenize(List<Piece> pieces) => Splitter.SplitAll(
        pieces,
        text =>
        {
            var list = new List<(int, int)>();
            for (var i = 0; i < text.Length; i++)
            {
                if (char.IsNumber(text[i]))
                {
                    list.Add((i, 1));
                }
            }

            return list;
        },
        individual ? SplitBehavior.Isolated : SplitBehavior.Contiguous,
        invert: false);
}

/// <summary><c>WhitespaceSplit</c>: splits on whitespace, dropping it.</summary>
internal sealed class WhitespaceSplitPreTokenizer(OnigRegex whitespace) : IPreTokenizer
{
    public void PreTokenize(List<Piece> pieces) => Splitter.SplitAll(pieces, whitespace.Matches, SplitBehavior.Removed, invert: false);
}
