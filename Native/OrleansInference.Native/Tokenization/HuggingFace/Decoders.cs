using System.Text;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>A tokenizer.json decoder step: maps the list of token strings to a new list (the result is concatenated).</summary>
internal interface ITokenDecoder
{
    List<string> DecodeChain(List<string> tokens);

    /// <summary>Whether this decoder (or a step of it) joins runs of byte tokens.</summary>
    bool UsesByteFallback => false;
}

/// <summary>Applies decoders in order.</summary>
internal sealed class SequenceDecoder(IReadOnlyList<ITokenDecoder> steps) : ITokenDecoder
{
    public bool UsesByteFallback => steps.Any(s => s.UsesByteFallback);

    public List<string> DecodeChain(List<string> tokens)
    {
        foreach (var step in steps)
        {
            tokens = step.DecodeChain(tokens);
        }

        return tokens;
    }
}

/// <summary><c>ByteLevel</c>: joins the bytes the tokens stand for and decodes them as UTF-8, invalid sequences as U+FFFD.</summary>
internal sealed class ByteLevelDecoder : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>(tokens.Count * 4);
        foreach (var t in tokens)
        {
            ByteLevelAlphabet.AppendBytes(t, bytes);
        }

        return [Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes))];
    }
}

/// <summary>
/// <c>ByteFallback</c>: runs of <c>&lt;0xNN&gt;</c> tokens become the UTF-8 text of their bytes, or one U+FFFD per byte
/// when the run is not valid UTF-8 (Hugging Face's rule, unlike a lossy decode).
/// </summary>
internal sealed class ByteFallbackDecoder : ITokenDecoder
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public bool UsesByteFallback => true;

    public List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (var t in tokens)
        {
            if (TryParseByte(t, out var b))
            {
                pending.Add(b);
                continue;
            }

            Flush(pending, output);
            output.Add(t);
        }

        Flush(pending, output);
        return output;
    }

    public static bool TryParseByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }

    private static void Flush(List<byte> pending, List<string> output)
    {
        if (pending.Count == 0)
        {
            return;
        }

        try
        {
            output.Add(Strict.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pending)));
        }
        catch (DecoderFallbackException)
        {
            for (var i = 0; i < pending.Count; i++)
            {
                output.Add("\uFFFD");
            }
        }

        pending.Clear();
    }
}

/// <summary><c>Fuse</c>: concatenates all tokens into one.</summary>
internal sealed class FuseDecoder : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

/// <summary><c>Strip</c>: removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token.</summary>
internal sealed class StripDecoder(char content, int start, int stop) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        foreach (var t in tokens)
        {
            var from = 0;
            while (from < start && from < t.Length && t[from] == content)
            {
                from++;
            }

            var to = t.Length;
            for (var k = 0; k < stop && to > from && t[to - 1] == content; k++)
            {
                to--;
            }

            output.Add(t[from..to]);
        }

        return output;
    }
}

/// <summary><c>Replace</c>: replaces a literal or regex in each token.</summary>
internal sealed class ReplaceDecoder(OnigRegex pattern, string content) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        tokens.Select(t => ReplaceNormalizer.ReplaceAll(pattern, content, t)).ToList();
}

/// <summary><c>Metaspace</c>: "▁" becomes a space, except in the first token when a prefix was prepended on encode.</summary>
internal sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        for (var i = 0; i < tokens.Count; i++)
        {
            var sb = new StringBuilder(tokens[i].Length);
            foreach (var c in tokens[i])
            {
                if (c != replacement)
                {
                    sb.Append(c);
                }
                else if (!(i == 0 && scheme != PrependScheme.Never))
                {
                    sb.Append(' ');
                }
            }

            output.Add(sb.ToString());
        }

        return output;
    }
}

/// <summary><c>BPEDecoder</c>: the end-of-word suffix becomes a space (none after the last token).</summary>
internal sealed class BpeSuffixDecoder(string suffix) : ITokenDecoder
{
    public List<string> DecodeChain(List<string> tokens) =>
        tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal)).ToList();
}
