namespace OrleansInference.Native.Models;

/// <summary>
/// SplitMix64: a tiny generator with a fixed, published algorithm, so generated weights are the same on every
/// runtime and platform (unlike <see cref="Random"/>, whose algorithm is unspecified).
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// Approximately standard normal: a scaled sum of four uniforms (Irwin–Hall). Plain arithmetic only, so it is
    /// bit-for-bit reproducible; the tails are bounded (|x| ≤ 2√3), which suits weights.
    /// </summary>
    public double NextNormal()
    {
        double s = NextDouble() + NextDouble() + NextDouble() + NextDouble();
        return (s - 2.0) * 1.7320508075688772;
    }
}
