using Xunit;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Tests.Sampling;

public sealed class PhiloxRngTests
{
    // Random123's kat_vectors for philox4x32-10: counter (4 words), key (2 words), expected output (4 words).
    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Matches_Random123_known_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, uint x0, uint x1, uint x2, uint x3)
    {
        Assert.Equal(new PhiloxBlock(x0, x1, x2, x3), PhiloxRng.Generate(c0, c1, c2, c3, k0, k1));
    }

    [Fact]
    public void Seed_position_and_sample_map_to_key_and_counter_words()
    {
        const ulong seed = 0x299f31d0a4093822UL;
        const long position = 0x13198a2e_03707344L;
        var block = PhiloxRng.Generate(seed, position, 7);
        Assert.Equal(PhiloxRng.Generate(0x03707344u, 0x13198a2eu, 7u, 0u, 0xa4093822u, 0x299f31d0u), block);

        var expected = (((ulong)block.X0 << 21) | (block.X1 >> 11)) / 9007199254740992.0;
        Assert.Equal(expected, PhiloxRng.Uniform(seed, position, 7));
    }

    [Fact]
    public void Uniform_is_a_pure_function_and_in_range()
    {
        Assert.Equal(PhiloxRng.Uniform(42, 1000, 3), PhiloxRng.Uniform(42, 1000, 3));
        Assert.NotEqual(PhiloxRng.Uniform(42, 1000, 3), PhiloxRng.Uniform(42, 1001, 3));
        Assert.NotEqual(PhiloxRng.Uniform(42, 1000, 3), PhiloxRng.Uniform(42, 1000, 4));
        Assert.NotEqual(PhiloxRng.Uniform(42, 1000, 3), PhiloxRng.Uniform(43, 1000, 3));

        const int n = 200_000;
        var sum = 0.0;
        var buckets = new int[10];
        for (var i = 0; i < n; i++)
        {
            var u = PhiloxRng.Uniform(12345, i, 0);
            Assert.InRange(u, 0.0, 0.9999999999999999);
            sum += u;
            buckets[(int)(u * 10)]++;
        }

        Assert.InRange(sum / n, 0.497, 0.503);
        var chi2 = buckets.Sum(b => (b - (n / 10.0)) * (b - (n / 10.0)) / (n / 10.0));
        Assert.True(chi2 < 30, $"chi-square {chi2} over 9 degrees of freedom"); // p ≈ 4e-4
    }
}
