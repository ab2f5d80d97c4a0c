using OrleansInference.Native.Kv.Transport;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Kv.Transport;

/// <summary>The 64-byte control message of the NCCL KV protocol: layout, checks, and the echo comparison.</summary>
public sealed class KvWireMessageTests
{
    private static readonly KvWireMessage Offer = new(KvWireKind.Offer, KvWireStatus.Accepted, 16, 16, 8, 64, DType.BF16, 1,
        48, 0, 3, 5, 4, KvWireMessage.DigestOf([1UL, 2UL, 3UL]));

    [Fact]
    public void Round_trips_with_magic_version_and_little_endian_fields()
    {
        var bytes = new byte[KvWireMessage.Size];
        Offer.Write(bytes);
        Assert.Equal("OIKN"u8.ToArray(), bytes[..4]);
        Assert.Equal(new byte[] { 1, 0, 1, 0 }, bytes[4..8]); // version 1, kind Offer
        Assert.Equal(16, BitConverter.ToInt32(bytes, 12)); // block size
        Assert.Equal(Offer, KvWireMessage.Read(bytes, KvWireKind.Offer));
        Assert.Equal((4L * 48) + (8L * 3) + 5, Offer.MetadataBytes);
        Assert.Equal(2L * 16 * 8 * 64 * 2, Offer.LayerBytes);
    }

    [Theory]
    [InlineData(0, (byte)'X', "magic")]
    [InlineData(4, 2, "version 2")]
    [InlineData(6, 2, "Expected a KV transfer Offer")]
    [InlineData(12, 0, "impossible shape")]
    public void Refuses_a_damaged_or_unexpected_message(int offset, byte value, string expected)
    {
        var bytes = new byte[KvWireMessage.Size];
        Offer.Write(bytes);
        bytes[offset] = value;
        var e = Assert.Throws<InvalidDataException>(() => KvWireMessage.Read(bytes, KvWireKind.Offer));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void An_offer_whose_token_count_disagrees_with_its_blocks_is_refused()
    {
        var bytes = new byte[KvWireMessage.Size];
        (Offer with { TokenCount = 47 }).Write(bytes);
        Assert.Throws<InvalidDataException>(() => KvWireMessage.Read(bytes, KvWireKind.Offer));
    }

    [Fact]
    public void Mismatch_names_the_first_difference_and_ignores_the_answer_fields()
    {
        var answer = Offer with { Kind = KvWireKind.Answer, FirstBlock = 1, BlockCount = 2, Status = KvWireStatus.Accepted };
        Assert.Null(Offer.Mismatch(answer));
        Assert.Contains("block size", Offer.Mismatch(answer with { BlockSize = 32 }));
        Assert.Contains("KV shape", Offer.Mismatch(answer with { KvHeads = 4 }));
        Assert.Contains("element type", Offer.Mismatch(answer with { ElementType = DType.F32 }));
        Assert.Contains("hash version", Offer.Mismatch(answer with { HashVersion = 2 }));
        Assert.Contains("digest", Offer.Mismatch(answer with { Digest = KvWireMessage.DigestOf([1UL, 2UL, 4UL]) }));
    }
}
