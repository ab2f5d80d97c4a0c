using System.Text;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>A tokenizer.json normalizer: rewrites a stretch of text before pre-tokenization.</summary>
internal interface INormalizer
{
    string Normalize(string text);
}

/// <summary>Applies normalizers in order.</summary>
internal sealed class SequenceNormalizer(IReadOnlyList<INormalizer> steps) : INormalizer
{
    public string Normalize(string text)
    {
        foreach (var step in steps)
        {
            text = step.Normalize(text);
        }

        return text;
    }
}

/// <summary><c>Prepend</c>: adds a prefix to non-empty text (Llama 2's legacy "▁").</summary>
internal sealed class PrependNormalizer(string prefix) : INormalizer
{
    public string Normalize(string text) => text.Length == 0 ? text : prefix + text;
}

/// <summary><c>Replace</c>: replaces every match of a literal or regex.</summary>
internal sealed class ReplaceNormalizer(OnigRegex pattern, string content) : INormalizer
{
    public string Normalize(string text) => ReplaceAll(pattern, content, text);

    public static string ReplaceAll(OnigRegex pattern, string content, string text)
    {
        var matches = pattern.Matches(text);
        if (matches.Count == 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length);
        var at = 0;
        foreach (var (start, length) in matches)
        {
            sb.Append(text, at, start - at).Append(content);
            at = start + length;
        }

        return sb.Append(text, at, text.Length - at).ToString();
    }
}

/// <summary>
/// Unicode normalization forms. Note: with <c>InvariantGlobalization</c> (this repository's setting) .NET has no
/// normalization data and returns the text unchanged, so decomposed input (rare: most text is already NFC) can
/// tokenize differently from Hugging Face for models with an NFC normalizer (Qwen2).
/// </summary>
internal sealed class UnicodeNormalizer(NormalizationForm form) : INormalizer
{
    public string Normalize(string text)
    {
        try
        {
            return text.Normalize(form);
        }
        catch (PlatformNotSupportedException)
        {
            return text;
        }
    }
}

/// <summary><c>Lowercase</c>.</summary>
internal sealed class LowercaseNormalizer : INormalizer
{
    public string Normalize(string text) => text.ToLowerInvariant();
}

/// <summary><c>Strip</c>: trims whitespace on either side.</summary>
internal sealed class StripNormalizer(bool left, bool right) : INormalizer
{
    public string Normalize(string text) => (left, right) switch
    {
        (true, true) => text.Trim(),
        (true, false) => text.TrimStart(),
        (false, true) => text.TrimEnd(),
        _ => text,
    };
}

/// <summary><c>ByteLevel</c> normalizer: maps UTF-8 bytes to the byte-level alphabet.</summary>
internal sealed class ByteLevelNormalizer : INormalizer
{
    public string Normalize(string text) => ByteLevelAlphabet.Encode(text);
}
