using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Models;

public sealed class RotaryFrequenciesTests
{
    private static ModelConfig Config(double theta, RopeScaling? scaling, int headDim = 128) => new()
    {
        ModelType = "llama",
        HiddenSize = headDim * 2,
        IntermediateSize = 8,
        NumLayers = 1,
        NumHeads = 2,
        NumKvHeads = 2,
        HeadDim = headDim,
        VocabSize = 8,
        RopeTheta = theta,
        RopeScaling = scaling,
    };

    [Fact]
    public void DefaultIsThetaToTheMinusTwoIOverD()
    {
        var inv = RotaryFrequencies.Compute(Config(10000, null, headDim: 8));
        Assert.Equal(4, inv.Length);
        Assert.Equal(1f, inv[0]);
        Assert.Equal(0.1f, inv[1], 6);
        Assert.Equal(0.01f, inv[2], 7);
        Assert.Equal(0.001f, inv[3], 8);
    }

    [Fact]
    public void LinearDividesEveryFrequency()
    {
        var plain = RotaryFrequencies.Compute(Config(10000, null, headDim: 8));
        var linear = RotaryFrequencies.Compute(Config(10000, new RopeScaling("linear", 4.0), headDim: 8));
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.Equal(plain[i] / 4, linear[i], 7);
        }
    }

    [Fact]
    public void Llama3KeepsHighSlowsLowAndBlendsBetween()
    {
        // Llama 3.1's settings: theta 500000, D 128, factor 8, low 1, high 4, original 8192.
        var plain = RotaryFrequencies.Compute(Config(500000, null));
        var scaled = RotaryFrequencies.Compute(Config(500000, new RopeScaling("llama3", 8.0, 1.0, 4.0, 8192)));
        int kept = 0, slowed = 0, blended = 0;
        for (int i = 0; i < plain.Length; i++)
        {
            double wavelength = 2 * Math.PI / plain[i];
            if (wavelength < 8192 / 4.0)
            {
                Assert.Equal(plain[i], scaled[i]);
                kept++;
            }
            else if (wavelength > 8192 / 1.0)
            {
                Assert.Equal(plain[i] / 8, scaled[i], 1e-9);
                slowed++;
            }
            else
            {
                Assert.InRange(scaled[i], plain[i] / 8, plain[i]);
                blended++;
            }
        }

        // For these settings: wavelength 2π·500000^(i/64) is below 2048 for i ≤ 28 and above 8192 for i ≥ 35.
        Assert.Equal((29, 6, 29), (kept, blended, slowed));
    }
}
