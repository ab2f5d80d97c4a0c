using System.Buffers.Binary;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Kv.Transport;

/// <summary>What a <see cref="KvWireMessage"/> is.</summary>
internal enum KvWireKind : ushort
{
    /// <summary>Sender → receiver: the prefix on offer (followed by its token ids, block hashes and salt).</summary>
    Offer = 1,

    /// <summary>Receiver → sender: which blocks it takes (or why none).</summary>
    Answer = 2,

    /// <summary>Receiver → sender: the blocks are installed.</summary>
    Done = 3,
}

/// <summary>Why a receiver refused an offer (0 = accepted).</summary>
internal enum KvWireStatus
{
    Accepted = 0,
    Incompatible = 1,
    Failed = 2,
}

/// <summary>
/// The fixed 64-byte control message of the GPU KV transfer protocol (little-endian): <c>"OIKN"</c>, uint16 version,
/// uint16 kind, int32 status, then block size, layers, KV heads, head dim, element type, hash version, token count,
/// first block, block count, salt byte count (-1: none), layers per round, and a uint64 digest of the block hashes.
/// An offer is followed by a metadata message of <see cref="MetadataBytes"/>: token ids (int32), block hashes (uint64),
/// salt (UTF-8). The answer echoes the offer's shape and digest, so each end checks the other.
/// </summary>
internal readonly record struct KvWireMessage(
    KvWireKind Kind,
    KvWireStatus Status,
    int BlockSize,
    int Layers,
    int KvHeads,
    int HeadDim,
    DType ElementType,
    int HashVersion,
    int TokenCount,
    int FirstBlock,
    int BlockCount,
    int SaltBytes,
    int LayersPerRound,
    ulong Digest)
{
    public const int Size = 64;
    public const ushort Version = 1;
    private const uint Magic = 0x4E4B494F; // "OIKN"

    /// <summary>Bytes of the metadata message that follows an offer.</summary>
    public long MetadataBytes => 4L * TokenCount + 8L * BlockCount + Math.Max(0, SaltBytes);

    /// <summary>Bytes of one block's slice of one layer (K and V).</summary>
    public long LayerBytes => 2L * BlockSize * KvHeads * HeadDim * (ElementType == DType.F32 ? 4 : 2);

    /// <summary>A digest of the chained block hashes: both ends compute it and compare.</summary>
    public static ulong DigestOf(ReadOnlySpan<ulong> hashes) =>
        KvTransferFormat.Checksum(System.Runtime.InteropServices.MemoryMarshal.AsBytes(hashes));

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A KV wire message needs {Size} bytes.", nameof(destination));
        }

        destination[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Kind);
        int[] ints = [(int)Status, BlockSize, Layers, KvHeads, HeadDim, (int)ElementType, HashVersion, TokenCount, FirstBlock, BlockCount, SaltBytes, LayersPerRound];
        for (var i = 0; i < ints.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination[(8 + (4 * i))..], ints[i]);
        }

        BinaryPrimitives.WriteUInt64LittleEndian(destination[56..], Digest);
    }

    /// <summary>Parses a message of <paramref name="expected"/> kind; throws <see cref="InvalidDataException"/> otherwise.</summary>
    public static KvWireMessage Read(ReadOnlySpan<byte> source, KvWireKind expected)
    {
        if (source.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic)
        {
            throw new InvalidDataException("Not a KV transfer message: the magic \"OIKN\" is missing (the peers are out of step or speak another protocol).");
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(source[4..]);
        if (version != Version)
        {
            throw new InvalidDataException($"KV transfer protocol version {version} is not supported (this end speaks {Version}).");
        }

        var kind = (KvWireKind)BinaryPrimitives.ReadUInt16LittleEndian(source[6..]);
        if (kind != expected)
        {
            throw new InvalidDataException($"Expected a KV transfer {expected} message, got {kind}.");
        }

        Span<int> v = stackalloc int[12];
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = BinaryPrimitives.ReadInt32LittleEndian(source[(8 + (4 * i))..]);
        }

        var m = new KvWireMessage(kind, (KvWireStatus)v[0], v[1], v[2], v[3], v[4], (DType)v[5], v[6], v[7], v[8], v[9], v[10], v[11],
            BinaryPrimitives.ReadUInt64LittleEndian(source[56..]));
        if (m.BlockSize <= 0 || m.Layers <= 0 || m.KvHeads <= 0 || m.HeadDim <= 0 || m.TokenCount < 0 || m.FirstBlock < 0 || m.BlockCount < 0
            || m.SaltBytes < -1 || m.SaltBytes > 4096 || (kind == KvWireKind.Offer && m.TokenCount != (m.FirstBlock + m.BlockCount) * m.BlockSize))
        {
            throw new InvalidDataException($"KV transfer {kind} has an impossible shape: {m}.");
        }

        return m;
    }

    /// <summary>Null when <paramref name="other"/> describes the same blocks (shape, element type, hash version, digest); else why not.</summary>
    public string? Mismatch(in KvWireMessage other)
    {
        if (BlockSize != other.BlockSize)
        {
            return $"block size {other.BlockSize} differs from {BlockSize}";
        }

        if (Layers != other.Layers || KvHeads != other.KvHeads || HeadDim != other.HeadDim)
        {
            return $"KV shape (layers {other.Layers}, KV heads {other.KvHeads}, head dim {other.HeadDim}) differs from (layers {Layers}, KV heads {KvHeads}, head dim {HeadDim})";
        }

        if (ElementType != other.ElementType)
        {
            return $"element type {other.ElementType} differs from {ElementType}";
        }

        if (HashVersion != other.HashVersion)
        {
            return $"block hash version {other.HashVersion} differs from {HashVersion}";
        }

        return Digest != other.Digest ? "the digest of the block hashes differs" : null;
    }
}
