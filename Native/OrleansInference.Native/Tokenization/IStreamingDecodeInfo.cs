namespace OrleansInference.Native.Tokenization;

/// <summary>
/// Optional capability of a tokenizer, used by <see cref="IncrementalDetokenizer"/>: which tokens leave the text
/// before them open to change. Byte-level tokenizers do not need it (their text only changes while it ends in an
/// incomplete UTF-8 sequence); SentencePiece byte fallback does, because Hugging Face decodes a whole run of
/// <c>&lt;0xNN&gt;</c> tokens as one UTF-8 sequence and turns every byte of an invalid run into U+FFFD.
/// </summary>
public interface IStreamingDecodeInfo
{
    /// <summary>Whether tokens that follow this one can still change the text of the tokens up to it.</summary>
    bool IsOpenEnded(int tokenId);

    /// <summary>Whether this token decodes to nothing at all (an unknown id, or a special token when skipping them).</summary>
    bool IsInvisible(int tokenId, bool skipSpecialTokens);
}
