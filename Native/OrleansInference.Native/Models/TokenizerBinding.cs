using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Models;

/// <summary>
/// Where model loading obtains tokenizers. The tokenizer implementations (HfTokenizer, BuiltinTokenizer) come from
/// the tokenization work; until they are on this branch, asking for a tokenizer fails with a clear message while
/// everything else about a model (config, tensors, forward pass) works.
/// </summary>
internal static class TokenizerBinding
{
    public static ITextTokenizer ForDirectory(string directory) =>
        throw new NotSupportedException($"No tokenizer loader is wired yet for {directory} (HfTokenizer has not been merged into this branch).");

    public static ITextTokenizer Builtin() =>
        throw new NotSupportedException("The built-in GPT-2 tokenizer is not wired yet (BuiltinTokenizer has not been merged into this branch).");
}
