using System.Buffers.Binary;
using System.Text;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Kv;

/// <summary>
/// The versioned binary layout that moves cached KV blocks between engines (little-endian):
/// <c>"OIKV"</c>, int32 version (1), model id and cache salt (int32 UTF-8 length, -1 for none, then bytes), int32
/// block size, hash version, layers, KV heads, head dim, element type (<see cref="DType"/>), int32 block count, the
/// prefix's token ids (int32 each), the blocks' chained hashes (uint64 each), int64 bytes per block, the blocks'
/// bytes, and a uint64 checksum of everything before it.
/// </summary>
internal static class KvTransferFormat
{
    public const int Version = 1;

    private static ReadOnlySpan<byte> Magic => "OIKV"u8;

    /// <summary>Lays out a payload; <paramref name="readBlock"/> fills each block's bytes.</summary>
    public static byte[] Write(KvPayload header, Action<int, Span<byte>> readBlock)
    {
        var model = Encoding.UTF8.GetBytes(header.ModelId);
        var salt = header.CacheSalt is null ? null : Encoding.UTF8.GetBytes(header.CacheSalt);
        var n = header.NumBlocks;
        var blockBytes = header.BlockBytes;
        long size = 4 + 4 + 4 + model.Length + 4 + (salt?.Length ?? 0) + 6 * 4 + 4
            + 4L * header.TokenIds.Length + 8L * n + 8 + blockBytes * n + 8;
        if (size > Array.MaxLength)
        {
            throw new InvalidOperationException($"A KV payload of {size} bytes is too large; export a shorter prefix.");
        }
        var buffer = new byte[size];
        var w = new SpanWriter(buffer);
        w.Bytes(Magic);
        w.Int32(Version);
        w.String(model);
        w.String(salt);
        w.Int32(header.BlockSize);
        w.Int32(header.HashVersion);
        w.Int32(header.NumLayers);
        w.Int32(header.NumKvHeads);
        w.Int32(header.HeadDim);
        w.Int32((int)header.ElementType);
        w.Int32(n);
        foreach (var t in header.TokenIds) w.Int32(t);
        foreach (var h in header.BlockHashes) w.UInt64(h);
        w.Int64(blockBytes);
        for (var i = 0; i < n; i++)
        {
            readBlock(i, w.Take((int)blockBytes));
        }
        w.UInt64(Checksum(buffer.AsSpan(0, w.Position)));
        return buffer;
    }

    /// <summary>Parses and checks a payload's structure and checksum; throws <see cref="InvalidDataException"/>.</summary>
    public static KvPayload Read(ReadOnlyMemory<byte> payload)
    {
        var span = payload.Span;
        if (span.Length < 8 || !span[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a KV payload: the magic \"OIKV\" is missing.");
        }
        if (span.Length < 16)
        {
            throw new InvalidDataException("KV payload truncated in its header.");
        }
        var stored = BinaryPrimitives.ReadUInt64LittleEndian(span[^8..]);
        var r = new SpanReader(span[..^8]);
        r.Skip(4);
        var version = r.Int32("version");
        if (version != Version)
        {
            throw new InvalidDataException($"KV payload version {version} is not supported (this engine reads version {Version}).");
        }
        if (Checksum(span[..^8]) != stored)
        {
            throw new InvalidDataException("KV payload checksum mismatch: the payload is corrupted or truncated.");
        }
        var model = r.String("model id") ?? throw new InvalidDataException("KV payload has no model id.");
        var salt = r.String("cache salt");
        var blockSize = r.Int32("block size");
        var hashVersion = r.Int32("hash version");
        var layers = r.Int32("layer count");
        var kvHeads = r.Int32("KV head count");
        var headDim = r.Int32("head dim");
        var elementType = (DType)r.Int32("element type");
        var n = r.Int32("block count");
        if (blockSize <= 0 || layers <= 0 || kvHeads <= 0 || headDim <= 0 || n < 0)
        {
            throw new InvalidDataException($"KV payload has an impossible shape (block size {blockSize}, layers {layers}, KV heads {kvHeads}, head dim {headDim}, blocks {n}).");
        }
        if (elementType is not (DType.F32 or DType.BF16))
        {
            throw new InvalidDataException($"KV payload element type {(int)elementType} is not F32 or BF16.");
        }
        var tokens = new int[checked(n * blockSize)];
        for (var i = 0; i < tokens.Length; i++) tokens[i] = r.Int32("token ids");
        var hashes = new ulong[n];
        for (var i = 0; i < n; i++) hashes[i] = r.UInt64("block hashes");
        var blockBytes = r.Int64("block byte count");
        var expected = 2L * layers * blockSize * kvHeads * headDim * KvPayload.ElementSize(elementType);
        if (blockBytes != expected)
        {
            throw new InvalidDataException($"KV payload says {blockBytes} bytes per block; its shape needs {expected}.");
        }
        var dataOffset = r.Position;
        if (span.Length - 8 - dataOffset != blockBytes * n)
        {
            throw new InvalidDataException($"KV payload holds {span.Length - 8 - dataOffset} block bytes; {n} blocks need {blockBytes * n}.");
        }
        return new KvPayload(model, salt, blockSize, hashVersion, layers, kvHeads, headDim, elementType, tokens, hashes,
            payload.Slice(dataOffset, (int)(blockBytes * n)));
    }

    /// <summary>A 64-bit multiply-xorshift hash over 8-byte words (fast enough for megabytes of KV).</summary>
    public static ulong Checksum(ReadOnlySpan<byte> data)
    {
        const ulong k = 0x9E3779B97F4A7C15UL;
        var h = 0xcbf29ce484222325UL ^ (ulong)data.Length;
        var words = data.Length / 8;
        for (var i = 0; i < words; i++)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i * 8, 8))) * k;
            h ^= h >> 31;
        }
        for (var i = words * 8; i < data.Length; i++)
        {
            h = (h ^ data[i]) * k;
        }
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9UL;
        return h ^ (h >> 32);
    }

    private ref struct SpanWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;

        public int Position { get; private set; }

        public void Bytes(ReadOnlySpan<byte> b)
        {
            b.CopyTo(_buffer[Position..]);
            Position += b.Length;
        }

        public void Int32(int v) { BinaryPrimitives.WriteInt32LittleEndian(_buffer[Position..], v); Position += 4; }

        public void Int64(long v) { BinaryPrimitives.WriteInt64LittleEndian(_buffer[Position..], v); Position += 8; }

        public void UInt64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(_buffer[Position..], v); Position += 8; }

        public void String(byte[]? utf8)
        {
            if (utf8 is null)
            {
                Int32(-1);
                return;
            }
            Int32(utf8.Length);
            Bytes(utf8);
        }

        public Span<byte> Take(int length)
        {
            var s = _buffer.Slice(Position, length);
            Position += length;
            return s;
        }
    }

    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public void Skip(int n) => Need(n, "header");

        public int Int32(string what) => BinaryPrimitives.ReadInt32LittleEndian(Need(4, what));

        public long Int64(string what) => BinaryPrimitives.ReadInt64LittleEndian(Need(8, what));

        public ulong UInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Need(8, what));

        public string? String(string what)
        {
            var length = Int32(what);
            if (length == -1)
            {
                return null;
            }
            if (length < 0 || length > 4096)
            {
                throw new InvalidDataException($"KV payload {what} has an invalid length {length}.");
            }
            return Encoding.UTF8.GetString(Need(length, what));
        }

        private ReadOnlySpan<byte> Need(int n, string what)
        {
            if (n < 0 || Position + n > _data.Length)
            {
                throw new InvalidDataException($"KV payload truncated while reading its {what}.");
            }
            var s = _data.Slice(Position, n);
            Position += n;
            return s;
        }
    }
}
