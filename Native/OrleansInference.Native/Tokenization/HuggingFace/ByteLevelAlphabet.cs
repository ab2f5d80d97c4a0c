using System.Text;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>
/// GPT-2's reversible byte ↔ printable-character map: printable Latin-1 bytes map to themselves, the other 68 bytes
/// to U+0100 onwards (space → 'Ġ', newline → 'Ċ'), so every byte string becomes a string without whitespace or
/// control characters that BPE vocabularies can store.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>Character of each byte.</summary>
    public static readonly char[] ByteToChar = BuildByteToChar();

    /// <summary>Byte of each character below U+0144 (others are not in the alphabet: -1).</summary>
    private static readonly short[] CharToByte = BuildCharToByte();

    /// <summary>The byte a character stands for, or -1 when it is not in the alphabet.</summary>
    public static int ToByte(char c) => c < CharToByte.Length ? CharToByte[c] : -1;

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to alphabet characters.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (dst, src) =>
        {
            for (var i = 0; i < src.Length; i++)
            {
                dst[i] = ByteToChar[src[i]];
            }
        });
    }

    /// <summary>
    /// Appends the bytes a token stands for; a token with a character outside the alphabet (e.g. an added token
    /// written as plain text) contributes its own UTF-8 bytes, as Hugging Face's ByteLevel decoder does.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (var c in token)
        {
            if (ToByte(c) < 0)
            {
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }

        foreach (var c in token)
        {
            output.Add((byte)ToByte(c));
        }
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var assigned = new bool[256];
        for (var b = 0; b < 256; b++)
        {
            if (b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF)
            {
                map[b] = (char)b;
                assigned[b] = true;
            }
        }

        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            if (!assigned[b])
            {
                map[b] = (char)(256 + next++);
            }
        }

        return map;
    }

    private static short[] BuildCharToByte()
    {
        var inverse = new short[256 + 68];
        Array.Fill(inverse, (short)-1);
        var forward = BuildByteToChar();
        for (var b = 0; b < 256; b++)
        {
            inverse[forward[b]] = (short)b;
        }

        return inverse;
    }
}
