namespace OrleansInference.Native.Models;

/// <summary>RoPE inverse frequencies with transformers' semantics (default, linear and llama3 scaling).</summary>
public static class RotaryFrequencies
{
    /// <summary>
    /// <c>inv_freq[i] = theta^(-2i/D)</c> for i &lt; D/2, then scaled: linear divides every frequency by the factor
    /// (the same as dividing positions); llama3 divides low frequencies by the factor, keeps high ones and blends
    /// in between (transformers' <c>_compute_llama3_parameters</c>). Rounded to float32 as transformers keeps them.
    /// Pair i rotates elements (i, i + D/2) by angle <c>position · inv_freq[i]</c>.
    /// </summary>
    public static float[] Compute(ModelConfig config)
    {
        int dim = config.HeadDim;
        var inv = new float[dim / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = (float)(1.0 / Math.Pow(config.RopeTheta, 2.0 * i / dim));
        }

        var s = config.RopeScaling;
        if (s is null || s.Type == "default")
        {
            return inv;
        }

        if (s.Type == "linear")
        {
            for (int i = 0; i < inv.Length; i++)
            {
                inv[i] = (float)(inv[i] / s.Factor);
            }

            return inv;
        }

        if (s.Type == "llama3")
        {
            double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
            double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
            for (int i = 0; i < inv.Length; i++)
            {
                double f = inv[i];
                double wavelen = 2 * Math.PI / f;
                if (wavelen > lowWavelen)
                {
                    f /= s.Factor;
                }
                else if (wavelen >= highWavelen)
                {
                    double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    f = (1 - smooth) * f / s.Factor + smooth * f;
                }

                inv[i] = (float)f;
            }

            return inv;
        }

        throw new ModelLoadException($"RoPE scaling type '{s.Type}' is not supported.");
    }
}
