using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Models;

public sealed class BuiltinModelTests
{
    [Fact]
    public void HasTheAgreedArchitecture()
    {
        using var m = BuiltinModel.Create();
        var c = m.Config;
        Assert.Equal("builtin", m.Id);
        Assert.Equal((50257, 64, 2, 4, 2, 16, 128, 2048), (c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.HeadDim, c.IntermediateSize, c.MaxPositionEmbeddings));
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal([50256], c.EosTokenIds);
        Assert.Null(c.BosTokenId);
        ModelTensorLayout.Validate(c, m.Tensors, "builtin");
        Assert.Equal(ModelTensorLayout.Expected(c).Count, m.Tensors.Names.Count());
        Assert.All(m.Tensors.Names, n => Assert.Equal("builtin", m.Tensors.TryGet(n)!.Origin));
    }

    [Fact]
    public void WeightsAreDeterministicPerSeed()
    {
        using var a = BuiltinModel.Create(1234);
        using var b = BuiltinModel.Create(1234);
        using var c = BuiltinModel.Create(1235);
        foreach (string name in new[] { "model.embed_tokens.weight", "model.layers.1.self_attn.v_proj.weight", "lm_head.weight" })
        {
            Assert.Equal(Values(a, name), Values(b, name));
            Assert.NotEqual(Values(a, name), Values(c, name));
        }

        // Pinned values: the generator is SplitMix64 + Irwin–Hall, fixed forever, so these never change.
        var emb = Values(a, "model.embed_tokens.weight");
        Assert.Equal(emb.Take(3).Select(v => MathF.Round(v, 6)), PinnedFirstEmbeddingValues());
    }

    [Fact]
    public void WeightScalesKeepActivationsAndLogitsSpread()
    {
        using var m = BuiltinModel.Create();
        Assert.InRange(Std(Values(m, "model.embed_tokens.weight")), 0.95, 1.05);
        Assert.InRange(Std(Values(m, "lm_head.weight")), 0.45, 0.55); // 4 / sqrt(64)
        Assert.InRange(Std(Values(m, "model.layers.0.mlp.down_proj.weight")), 1 / Math.Sqrt(128) * 0.9, 1 / Math.Sqrt(128) * 1.1);
        Assert.InRange(Values(m, "model.norm.weight").Average(), 0.95, 1.05);
    }

    private static float[] PinnedFirstEmbeddingValues()
    {
        // Recomputed independently of SyntheticWeights: the embedding is the first tensor drawn from the seed.
        ulong state = 1234;
        ulong Next()
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        double U() => (Next() >> 11) * (1.0 / (1UL << 53));
        return Enumerable.Range(0, 3).Select(_ => MathF.Round((float)((U() + U() + U() + U() - 2) * Math.Sqrt(3)), 6)).ToArray();
    }

    private static float[] Values(LoadedModel m, string name)
    {
        var t = m.Tensors.TryGet(name)!;
        var f = new float[t.ElementCount];
        t.CopyToFloat32(f);
        return f;
    }

    private static double Std(float[] v)
    {
        double mean = v.Average(x => (double)x);
        return Math.Sqrt(v.Average(x => (x - mean) * (x - mean)));
    }
}
