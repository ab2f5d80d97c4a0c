namespace OrleansInference.Native.Tokenization;

/// <summary>
/// Turns a stream of generated token ids into a stream of text. Each token decodes only a small window (the tokens
/// since the previous emission plus the ones before them as context), and text is held back while it ends in an
/// incomplete UTF-8 sequence (U+FFFD), so the pieces concatenate to exactly the text of the whole output.
/// </summary>
/// <remarks>
/// <para>
/// "The text of the output" means the text the output adds after the prompt: <c>Decode(tail + output)</c> minus
/// <c>Decode(tail)</c>. For byte-level tokenizers (GPT-2, Llama 3, Qwen2) this is exactly <c>Decode(output)</c>. For
/// SentencePiece-style tokenizers (Llama 2, Mistral) it differs only in that a leading "▁" of the first output token
/// is kept as a space when a prompt tail is given (as in vLLM, so prompt + completion reads right); with an empty
/// tail it is dropped, as <c>Decode(output)</c> does.
/// </para>
/// <para>
/// Prompt tail tokens whose text ends in an incomplete UTF-8 sequence are not used as context, so a prompt cut in the
/// middle of a character never makes the first output text disagree with <c>Decode(output)</c>. Not thread-safe: one
/// instance per sample.
/// </para>
/// </remarks>
public sealed class IncrementalDetokenizer
{
    /// <summary>Prompt tokens kept as decoding context.</summary>
    public const int ContextTokens = 6;

    private const char Replacement = '\uFFFD';
    private const int TrimThreshold = 256;

    private readonly ITextTokenizer _tokenizer;
    private readonly IStreamingDecodeInfo? _info;
    private readonly bool _skipSpecialTokens;
    private bool _openEnded;
    private readonly List<int> _ids = new(64);
    private int _prefixOffset;
    private int _readOffset;
    private string _prefixText;

    /// <summary>Creates a detokenizer for one sample.</summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="promptTail">The last tokens of the prompt (any number; the last few are used as context).</param>
    /// <param name="skipSpecialTokens">Drop special tokens from the text, as <see cref="ITextTokenizer.Decode"/> does by default.</param>
    public IncrementalDetokenizer(ITextTokenizer tokenizer, ReadOnlySpan<int> promptTail, bool skipSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _info = tokenizer as IStreamingDecodeInfo;
        _skipSpecialTokens = skipSpecialTokens;

        // Context must end where the prompt's text is final: not inside a character, not inside a byte-fallback run.
        var tail = promptTail.Length > ContextTokens ? promptTail[^ContextTokens..] : promptTail;
        var context = tail.Length;
        var text = Decode(tail);
        while (context > 0 && ((text.Length > 0 && text[^1] == Replacement) || EndsOpen(tail[..context])))
        {
            context--;
            text = Decode(tail[..context]);
        }

        foreach (var id in tail[..context])
        {
            _ids.Add(id);
        }

        _prefixOffset = 0;
        _readOffset = context;
        _prefixText = text;
    }

    /// <summary>Adds one generated token; returns the text that became stable (possibly empty).</summary>
    public string Push(int tokenId)
    {
        _ids.Add(tokenId);
        if (_info is not null && !_info.IsInvisible(tokenId, _skipSpecialTokens))
        {
            _openEnded = _info.IsOpenEnded(tokenId);
        }

        if (_openEnded)
        {
            return ""; // a byte-fallback run may continue and change how it decodes
        }

        var text = Decode(Ids[_prefixOffset..]);
        if (text.Length > 0 && text[^1] == Replacement)
        {
            return ""; // an incomplete character: wait for the rest of its bytes
        }

        return Advance(text);
    }

    /// <summary>Returns whatever is still held back (an incomplete character at the end of generation decodes as U+FFFD).</summary>
    public string Flush()
    {
        if (_readOffset == _ids.Count)
        {
            return "";
        }

        var text = Decode(Ids[_prefixOffset..]);
        if (!text.StartsWith(_prefixText, StringComparison.Ordinal))
        {
            // Not expected with the tokenizers we know; never drop text: emit what differs from what was sent.
            var common = 0;
            while (common < text.Length && common < _prefixText.Length && text[common] == _prefixText[common])
            {
                common++;
            }

            _prefixOffset = _readOffset = _ids.Count;
            _prefixText = "";
            return text[common..];
        }

        return Advance(text);
    }

    private string Advance(string text)
    {
        if (text.Length <= _prefixText.Length || !text.StartsWith(_prefixText, StringComparison.Ordinal))
        {
            // Nothing new yet (e.g. a skipped special token): keep the window and try again with the next token.
            return "";
        }

        var delta = text[_prefixText.Length..];
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        _prefixText = Decode(Ids[_prefixOffset.._readOffset]);
        TrimHistory();
        return delta;
    }

    private bool EndsOpen(ReadOnlySpan<int> ids)
    {
        if (_info is null)
        {
            return false;
        }

        for (var i = ids.Length - 1; i >= 0; i--)
        {
            if (!_info.IsInvisible(ids[i], _skipSpecialTokens))
            {
                return _info.IsOpenEnded(ids[i]);
            }
        }

        return false;
    }

    private void TrimHistory()
    {
        if (_prefixOffset < TrimThreshold)
        {
            return;
        }

        _ids.RemoveRange(0, _prefixOffset);
        _readOffset -= _prefixOffset;
        _prefixOffset = 0;
    }

    private ReadOnlySpan<int> Ids => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ids);

    private string Decode(ReadOnlySpan<int> ids) => ids.IsEmpty ? "" : _tokenizer.Decode(ids, _skipSpecialTokens);
}
