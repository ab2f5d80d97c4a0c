using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Models;

internal static class TokenizerBinding
{
    public static ITextTokenizer ForDirectory(string directory) => HfTokenizer.Load(directory);

    public static ITextTokenizer Builtin() => BuiltinTokenizer.Create();
}
