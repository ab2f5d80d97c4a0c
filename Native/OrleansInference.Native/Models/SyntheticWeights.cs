namespace OrleansInference.Native.Models;

/// <summary>
/// Deterministic seeded weights for any config (built-in model, tests). Scaled so activations keep unit size
/// through the layers and the logits spread widely (std ≈ 4): random models otherwise have near-tied logits, and
/// near-ties make greedy outputs flip under harmless changes in summation order.
/// </summary>
internal static class SyntheticWeights
{
    public static InMemoryTensorSource Generate(ModelConfig config, ulong seed, string origin)
    {
        var rng = new SplitMix64(seed);
        double h = config.HiddenSize;
        double logitStd = 4.0 / Math.Sqrt(h);
        var tensors = new List<InMemoryTensor>();
        foreach (var e in ModelTensorLayout.Expected(config))
        {
            long count = 1;
            foreach (long d in e.Shape)
            {
                count *= d;
            }

            var data = new float[checked((int)count)];
            string n = e.Name;
            if (n.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                Fill(ref rng, data, 1.0, 0.1);
            }
            else if (n.EndsWith(".bias", StringComparison.Ordinal))
            {
                Fill(ref rng, data, 0.0, 0.2);
            }
            else if (n == ModelTensorLayout.Embedding)
            {
                Fill(ref rng, data, 0.0, config.TieWordEmbeddings ? logitStd : 1.0);
            }
            else if (n == ModelTensorLayout.LmHead)
            {
                Fill(ref rng, data, 0.0, logitStd);
            }
            else
            {
                // [out, in] projections: unit-variance inputs give unit-variance outputs.
                Fill(ref rng, data, 0.0, 1.0 / Math.Sqrt(e.Shape[1]));
            }

            tensors.Add(new InMemoryTensor(n, data, e.Shape, origin));
        }

        return new InMemoryTensorSource(tensors);
    }

    private static void Fill(ref SplitMix64 rng, float[] data, double mean, double std)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(mean + std * rng.NextNormal());
        }
    }
}
