using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Reference;

/// <summary>
/// A plain dense forward pass over a whole sequence, written independently of the backends: no paging, no
/// batching, straightforward loops, double accumulation. It is the yardstick the backends are compared with.
/// </summary>
internal sealed class DenseReferenceModel
{
    private readonly ModelConfig _c;
    private readonly ITensorSource _t;

    public DenseReferenceModel(ModelConfig config, ITensorSource tensors)
    {
        _c = config;
        _t = tensors;
    }

    /// <summary>Logits <c>[tokens.Length][vocab]</c> for every position of the sequence.</summary>
    public double[][] Logits(IReadOnlyList<int> tokens)
    {
        int n = tokens.Count, hidden = _c.HiddenSize, d = _c.HeadDim;
        double[] embedding = Load("model.embed_tokens.weight");
        var x = new double[n][];
        for (int i = 0; i < n; i++)
        {
            x[i] = new double[hidden];
            Array.Copy(embedding, (long)tokens[i] * hidden, x[i], 0, hidden);
        }

        double[] invFreq = InverseFrequencies();
        for (int layer = 0; layer < _c.NumLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var norm1 = Load(p + "input_layernorm.weight");
            var wq = Load(p + "self_attn.q_proj.weight");
            var wk = Load(p + "self_attn.k_proj.weight");
            var wv = Load(p + "self_attn.v_proj.weight");
            var wo = Load(p + "self_attn.o_proj.weight");
            var bq = _c.AttentionBias ? Load(p + "self_attn.q_proj.bias") : null;
            var bk = _c.AttentionBias ? Load(p + "self_attn.k_proj.bias") : null;
            var bv = _c.AttentionBias ? Load(p + "self_attn.v_proj.bias") : null;
            var bo = _c.AttentionOutputBias ? Load(p + "self_attn.o_proj.bias") : null;

            var q = new double[n][];
            var k = new double[n][];
            var v = new double[n][];
            for (int i = 0; i < n; i++)
            {
                var h = RmsNorm(x[i], norm1);
                q[i] = Linear(h, wq, bq, _c.NumHeads * d);
                k[i] = Linear(h, wk, bk, _c.NumKvHeads * d);
                v[i] = Linear(h, wv, bv, _c.NumKvHeads * d);
                Rotate(q[i], _c.NumHeads, i, invFreq);
                Rotate(k[i], _c.NumKvHeads, i, invFreq);
            }

            for (int i = 0; i < n; i++)
            {
                var attn = new double[_c.NumHeads * d];
                for (int head = 0; head < _c.NumHeads; head++)
                {
                    int kvHead = head / (_c.NumHeads / _c.NumKvHeads);
                    var scores = new double[i + 1];
                    for (int j = 0; j <= i; j++)
                    {
                        double dot = 0;
                        for (int e = 0; e < d; e++)
                        {
                            dot += q[i][(head * d) + e] * k[j][(kvHead * d) + e];
                        }

                        scores[j] = dot / Math.Sqrt(d);
                    }

                    double max = scores.Max();
                    double total = 0;
                    for (int j = 0; j <= i; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        total += scores[j];
                    }

                    for (int j = 0; j <= i; j++)
                    {
                        for (int e = 0; e < d; e++)
                        {
                            attn[(head * d) + e] += scores[j] / total * v[j][(kvHead * d) + e];
                        }
                    }
                }

                var o = Linear(attn, wo, bo, hidden);
                for (int e = 0; e < hidden; e++)
                {
                    x[i][e] += o[e];
                }
            }

            var norm2 = Load(p + "post_attention_layernorm.weight");
            var gate = Load(p + "mlp.gate_proj.weight");
            var up = Load(p + "mlp.up_proj.weight");
            var down = Load(p + "mlp.down_proj.weight");
            int inter = _c.IntermediateSize;
            for (int i = 0; i < n; i++)
            {
                var h = RmsNorm(x[i], norm2);
                var g = Linear(h, gate, null, inter);
                var u = Linear(h, up, null, inter);
                var a = new double[inter];
                for (int e = 0; e < inter; e++)
                {
                    a[e] = g[e] / (1 + Math.Exp(-g[e])) * u[e];
                }

                var m = Linear(a, down, null, hidden);
                for (int e = 0; e < hidden; e++)
                {
                    x[i][e] += m[e];
                }
            }
        }

        var finalNorm = Load("model.norm.weight");
        var lmHead = _c.TieWordEmbeddings ? embedding : Load("lm_head.weight");
        var logits = new double[n][];
        for (int i = 0; i < n; i++)
        {
            logits[i] = Linear(RmsNorm(x[i], finalNorm), lmHead, null, _c.VocabSize);
        }

        return logits;
    }

    private double[] Load(string name)
    {
        var tensor = _t.TryGet(name) ?? throw new InvalidOperationException($"reference: missing {name}");
        var f = new float[tensor.ElementCount];
        tensor.CopyToFloat32(f);
        return Array.ConvertAll(f, v => (double)v);
    }

    private double[] RmsNorm(double[] x, double[] weight)
    {
        double ms = 0;
        foreach (double v in x)
        {
            ms += v * v;
        }

        double r = 1 / Math.Sqrt((ms / x.Length) + _c.RmsNormEps);
        var y = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] * r * weight[i];
        }

        return y;
    }

    private static double[] Linear(double[] x, double[] w, double[]? bias, int outputs)
    {
        int inputs = x.Length;
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double s = bias?[o] ?? 0;
            long row = (long)o * inputs;
            for (int i = 0; i < inputs; i++)
            {
                s += x[i] * w[row + i];
            }

            y[o] = s;
        }

        return y;
    }

    /// <summary>HF rotate_half convention: element e pairs with e + D/2.</summary>
    private void Rotate(double[] v, int heads, int position, double[] invFreq)
    {
        int d = _c.HeadDim, half = d / 2;
        for (int h = 0; h < heads; h++)
        {
            for (int e = 0; e < half; e++)
            {
                double angle = position * invFreq[e];
                double a = v[(h * d) + e], b = v[(h * d) + e + half];
                v[(h * d) + e] = (a * Math.Cos(angle)) - (b * Math.Sin(angle));
                v[(h * d) + e + half] = (b * Math.Cos(angle)) + (a * Math.Sin(angle));
            }
        }
    }

    private double[] InverseFrequencies()
    {
        int d = _c.HeadDim;
        var inv = new double[d / 2];
        for (int e = 0; e < inv.Length; e++)
        {
            inv[e] = Math.Pow(_c.RopeTheta, -2.0 * e / d);
        }

        var s = _c.RopeScaling;
        if (s?.Type == "linear")
        {
            for (int e = 0; e < inv.Length; e++)
            {
                inv[e] /= s.Factor;
            }
        }
        else if (s?.Type == "llama3")
        {
            // Meta's published scheme: long wavelengths slowed by the factor, short ones kept, a linear blend
            // in 1/wavelength between.
            double old = s.OriginalMaxPositionEmbeddings;
            for (int e = 0; e < inv.Length; e++)
            {
                double wavelength = 2 * Math.PI / inv[e];
                if (wavelength < old / s.HighFreqFactor)
                {
                    continue;
                }

                if (wavelength > old / s.LowFreqFactor)
                {
                    inv[e] /= s.Factor;
                    continue;
                }

                double smooth = ((old / wavelength) - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                inv[e] = ((1 - smooth) * inv[e] / s.Factor) + (smooth * inv[e]);
            }
        }

        return inv;
    }
}
