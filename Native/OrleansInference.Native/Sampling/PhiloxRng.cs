namespace OrleansInference.Native.Sampling;

/// <summary>The four 32-bit words produced by one Philox4x32-10 evaluation.</summary>
public readonly record struct PhiloxBlock(uint X0, uint X1, uint X2, uint X3);

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a counter-based generator,
/// so a draw is a pure function of (key, counter). The engine keys it by the request's seed and uses the absolute
/// token position and the sample index as the counter, which makes a resumed or re-placed generation draw exactly
/// the numbers the uninterrupted one would have, on the CPU and on the GPU alike.
/// </summary>
/// <remarks>
/// Contract shared with the GPU kernels: key = (seed low 32 bits, seed high 32 bits); counter =
/// (position low 32 bits, position high 32 bits, sample index, 0); <see cref="Uniform"/> =
/// <c>((X0 &lt;&lt; 21) | (X1 &gt;&gt; 11)) · 2⁻⁵³</c>, i.e. the top 53 bits of <c>X0:X1</c>.
/// </remarks>
public static class PhiloxRng
{
    /// <summary>Multiplier of the first counter lane.</summary>
    public const uint M0 = 0xD2511F53u;

    /// <summary>Multiplier of the third counter lane.</summary>
    public const uint M1 = 0xCD9E8D57u;

    /// <summary>Weyl increment of the first key word (golden ratio).</summary>
    public const uint W0 = 0x9E3779B9u;

    /// <summary>Weyl increment of the second key word (sqrt(3) - 1).</summary>
    public const uint W1 = 0xBB67AE85u;

    /// <summary>Rounds; 10 is the variant with the published known-answer tests and a safety margin (7 pass BigCrush).</summary>
    public const int Rounds = 10;

    private const double TwoToMinus53 = 1.0 / (1UL << 53);

    /// <summary>Evaluates Philox4x32-10 on a 128-bit counter with a 64-bit key.</summary>
    public static PhiloxBlock Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (var round = 0; round < Rounds; round++)
        {
            if (round > 0)
            {
                k0 += W0;
                k1 += W1;
            }

            var p0 = (ulong)M0 * c0;
            var p1 = (ulong)M1 * c2;
            var hi0 = (uint)(p0 >> 32);
            var lo0 = (uint)p0;
            var hi1 = (uint)(p1 >> 32);
            var lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }

        return new PhiloxBlock(c0, c1, c2, c3);
    }

    /// <summary>The block for a (seed, position, sample index) triple, per the contract in the remarks.</summary>
    public static PhiloxBlock Generate(ulong seed, long position, int sampleIndex)
    {
        var pos = unchecked((ulong)position);
        return Generate((uint)pos, (uint)(pos >> 32), unchecked((uint)sampleIndex), 0u, (uint)seed, (uint)(seed >> 32));
    }

    /// <summary>A double in [0, 1) with 53 random bits, keyed by seed and counted by (position, sample index).</summary>
    public static double Uniform(ulong seed, long position, int sampleIndex)
    {
        var block = Generate(seed, position, sampleIndex);
        var bits = ((ulong)block.X0 << 21) | (block.X1 >> 11);
        return bits * TwoToMinus53;
    }
}
