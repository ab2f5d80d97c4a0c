using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Models;

/// <summary>Where model loading obtains tokenizers: a directory's tokenizer files, or the built-in GPT-2 one.</summary>
internal static class TokenizerBinding
{
    public static ITextTokenizer ForDirectory(string directory) => HfTokenizer.Load(directory);

    public static ITextTokenizer Builtin() => BuiltinTokenizer.Create();
}
