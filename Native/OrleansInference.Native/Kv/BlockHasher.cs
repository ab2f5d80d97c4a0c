using System.Buffers.Binary;
using System.Text;

namespace OrleansInference.Native.Kv;

/// <summary>
/// Chained hashes of full KV blocks: <c>h_i = H(h_{i-1}, tokens of block i)</c> with <c>h_{-1}</c> derived from the
/// model id and cache salt. The engine and the conductor use this one function; <see cref="Version"/> is checked at
/// worker registration so a change here can never silently mis-route.
/// </summary>
public static class BlockHasher
{
    /// <summary>Bumped whenever the function changes.</summary>
    public const int Version = 1;

    private const ulong Prime = 0x100000001b3UL;
    private const ulong Offset = 0xcbf29ce484222325UL;

    /// <summary>The chain's root for a model and optional salt.</summary>
    public static ulong Root(string modelId, string? cacheSalt = null)
    {
        var h = Offset;
        foreach (var b in Encoding.UTF8.GetBytes(modelId + "\u0000" + (cacheSalt ?? "")))
        {
            h = (h ^ b) * Prime;
        }
        return Mix(h ^ Version);
    }

    /// <summary>The hash of a full block given its parent's hash.</summary>
    public static ulong Next(ulong parent, ReadOnlySpan<int> blockTokens)
    {
        var h = Mix(parent ^ Offset);
        Span<byte> four = stackalloc byte[4];
        foreach (var t in blockTokens)
        {
            BinaryPrimitives.WriteInt32LittleEndian(four, t);
            for (var i = 0; i < 4; i++)
            {
                h = (h ^ four[i]) * Prime;
            }
        }
        return Mix(h ^ (ulong)blockTokens.Length);
    }

    /// <summary>Hashes of every full block of <paramref name="tokens"/> (a trailing partial block is not hashed).</summary>
    public static ulong[] HashBlocks(ReadOnlySpan<int> tokens, int blockSize, ulong root)
    {
        var n = tokens.Length / blockSize;
        var hashes = new ulong[n];
        var parent = root;
        for (var i = 0; i < n; i++)
        {
            parent = hashes[i] = Next(parent, tokens.Slice(i * blockSize, blockSize));
        }
        return hashes;
    }

    // splitmix64 finalizer: spreads FNV's weak low bits.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
