namespace OrleansInference.Native.Sampling;

/// <summary>
/// Chooses the next token from one row of logits, in the order Hugging Face and vLLM use: repetition penalty
/// (prompt and output tokens), frequency and presence penalties (output tokens), then either argmax (greedy) or
/// temperature → top-k → top-p → min-p → one draw of <see cref="PhiloxRng.Uniform"/> mapped through the CDF of the
/// surviving tokens in canonical order (probability descending, ties to the lower id).
/// </summary>
/// <remarks>
/// One instance per engine thread: it keeps vocabulary-sized scratch buffers between calls and is not thread-safe.
/// The draw depends only on (seed, position, sample index) and the logits, so a resumed generation draws as the
/// uninterrupted one did. Logprobs are those of the raw distribution (log-softmax of the logits as given, before
/// penalties and temperature), as vLLM reports them by default.
/// <para>
/// The exact rule, for implementations elsewhere (GPU): key = (logit − max logit) · (1/T) in fp32, weight = exp(key);
/// canonical order = key descending, ties to the lower id; top-k keeps the first k; top-p keeps a token iff the
/// weight ranked before it is below p · (weight of the top-k set), always the first; min-p keeps key ≥ ln(min_p);
/// the chosen token is the first in that order whose cumulative weight exceeds u · (weight of the kept set), with
/// u = <see cref="PhiloxRng.Uniform"/>(seed, position, sample index). Weights are summed in double; tokens whose
/// weight underflows to zero, and −∞/NaN logits, are never drawn.
/// </para>
/// </remarks>
public sealed class TokenSampler
{
    private readonly CanonicalDistribution _distribution = new();
    private float[] _raw = [];
    private float[] _scratch = [];
    private int[] _seenStamp = [];
    private int[] _countStamp = [];
    private int[] _counts = [];
    private int _stamp;
    private readonly List<TokenLogprob> _top = new(21);

    /// <summary>
    /// Picks a token. <paramref name="logits"/> is modified in place (penalties are applied to it).
    /// </summary>
    /// <param name="logits">One row of logits, one entry per vocabulary id.</param>
    /// <param name="p">Sampling parameters (assumed validated by <see cref="SamplingValidator"/>).</param>
    /// <param name="promptTokens">The prompt (for the repetition penalty).</param>
    /// <param name="outputTokens">Tokens generated so far for this sample (all penalties).</param>
    /// <param name="position">Absolute position of the token being chosen (RNG counter).</param>
    /// <param name="sampleIndex">Which sample of the request (RNG counter).</param>
    /// <param name="seed">The request's seed (RNG key).</param>
    public SampledToken Sample(
        Span<float> logits,
        SamplingParams p,
        ReadOnlySpan<int> promptTokens,
        ReadOnlySpan<int> outputTokens,
        long position,
        int sampleIndex,
        ulong seed)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (logits.IsEmpty)
        {
            throw new ArgumentException("Logits are empty.", nameof(logits));
        }

        var vocab = logits.Length;
        var penalised = HasPenalties(p) && (!promptTokens.IsEmpty || !outputTokens.IsEmpty);

        float logSumExp = 0;
        if (p.Logprobs is { } topN)
        {
            logSumExp = LogSumExp(logits);
            CollectTop(logits, topN, logSumExp);
            if (penalised)
            {
                EnsureCapacity(ref _raw, vocab);
                logits.CopyTo(_raw);
            }
        }

        if (penalised)
        {
            ApplyPenalties(logits, p, promptTokens, outputTokens);
        }

        // A temperature so small that 1/T overflows is greedy in effect.
        var greedy = p.IsGreedy || float.IsInfinity(1f / p.Temperature);
        var chosen = greedy ? ArgMax(logits) : Draw(logits, p, PhiloxRng.Uniform(seed, position, sampleIndex));

        PositionLogprobs? logprobs = null;
        if (p.Logprobs is not null)
        {
            var raw = penalised ? _raw[chosen] : logits[chosen];
            logprobs = new PositionLogprobs(new TokenLogprob(chosen, ToLogprob(raw, logSumExp)), _top.ToArray());
        }

        return new SampledToken(chosen, logprobs);
    }

    private static bool HasPenalties(SamplingParams p) =>
        p.RepetitionPenalty != 1f || p.FrequencyPenalty != 0f || p.PresencePenalty != 0f;

    private void ApplyPenalties(Span<float> logits, SamplingParams p, ReadOnlySpan<int> prompt, ReadOnlySpan<int> output)
    {
        var vocab = logits.Length;
        EnsureCapacity(ref _seenStamp, vocab);
        EnsureCapacity(ref _countStamp, vocab);
        EnsureCapacity(ref _counts, vocab);
        NextStamp();
        var stamp = _stamp;

        if (p.RepetitionPenalty != 1f)
        {
            var r = p.RepetitionPenalty;
            PenaliseRepeats(logits, prompt, r, stamp);
            PenaliseRepeats(logits, output, r, stamp);
        }

        if (p.FrequencyPenalty != 0f || p.PresencePenalty != 0f)
        {
            foreach (var t in output)
            {
                if ((uint)t >= (uint)vocab)
                {
                    continue;
                }

                if (_countStamp[t] != stamp)
                {
                    _countStamp[t] = stamp;
                    _counts[t] = 0;
                }

                _counts[t]++;
            }

            foreach (var t in output)
            {
                if ((uint)t >= (uint)vocab || _counts[t] == 0)
                {
                    continue;
                }

                logits[t] -= (p.FrequencyPenalty * _counts[t]) + p.PresencePenalty;
                _counts[t] = 0; // each distinct token once
            }
        }
    }

    private void PenaliseRepeats(Span<float> logits, ReadOnlySpan<int> tokens, float r, int stamp)
    {
        foreach (var t in tokens)
        {
            if ((uint)t >= (uint)logits.Length || _seenStamp[t] == stamp)
            {
                continue;
            }

            _seenStamp[t] = stamp;
            var v = logits[t];
            logits[t] = v > 0 ? v / r : v * r;
        }
    }

    private void NextStamp()
    {
        _stamp++;
        if (_stamp == int.MaxValue)
        {
            Array.Clear(_seenStamp);
            Array.Clear(_countStamp);
            _stamp = 1;
        }
    }

    /// <summary>Index of the largest logit; ties (and NaN, which never wins) resolve to the lowest id.</summary>
    internal static int ArgMax(ReadOnlySpan<float> logits)
    {
        // Vectorised search first; it returns the first maximum, but NaN wins there and +0 beats -0, so re-check those.
        var fast = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
        if (fast >= 0 && !float.IsNaN(logits[fast]) && logits[fast] != 0f)
        {
            return fast;
        }

        var best = 0;
        var bestValue = float.NegativeInfinity;
        var found = false;
        for (var i = 0; i < logits.Length; i++)
        {
            var v = logits[i];
            if (v > bestValue || (!found && v == bestValue))
            {
                best = i;
                bestValue = v;
                found = true;
            }
        }

        return best;
    }

    private int Draw(ReadOnlySpan<float> logits, SamplingParams p, double u)
    {
        var d = _distribution;
        if (!d.Load(logits, p.Temperature))
        {
            return ArgMax(logits);
        }

        // Every filter keeps a prefix of the canonical order; `length` is that prefix.
        var length = d.Count;
        if (p.TopK > 0 && p.TopK < length)
        {
            length = p.TopK;
        }

        if (p.TopP < 1f && length > 1)
        {
            // Keep a token iff the mass ranked strictly before it is below p (HF: drop the low tail whose cumulative mass ≤ 1 - p).
            var target = p.TopP * d.PrefixMass(length);
            var rank = d.RankAtMass(target, length, out var before);
            length = before < target || rank == 0 ? rank + 1 : rank;
        }

        if (p.MinP > 0f && length > 1)
        {
            // p ≥ min_p · p_max  ⇔  (logit − max) / T ≥ ln(min_p).
            length = Math.Min(length, d.CountOffsetAtLeast(MathF.Log(p.MinP)));
        }

        if (length == 1)
        {
            return d.TokenAt(0);
        }

        var chosen = d.RankAtMass(u * d.PrefixMass(length), length, out _);
        return d.TokenAt(chosen);
    }

    private float LogSumExp(ReadOnlySpan<float> logits)
    {
        var max = System.Numerics.Tensors.TensorPrimitives.Max(logits);
        if (float.IsNaN(max))
        {
            max = float.NegativeInfinity;
            foreach (var v in logits)
            {
                if (v > max)
                {
                    max = v;
                }
            }
        }

        if (float.IsNegativeInfinity(max) || float.IsPositiveInfinity(max))
        {
            return max;
        }

        EnsureCapacity(ref _scratch, logits.Length);
        var e = _scratch.AsSpan(0, logits.Length);
        System.Numerics.Tensors.TensorPrimitives.Subtract(logits, max, e);
        System.Numerics.Tensors.TensorPrimitives.Exp(e, e);
        var sum = 0.0;
        foreach (var x in e)
        {
            if (x > 0f) // NaN logits contribute nothing
            {
                sum += x;
            }
        }

        return (float)(max + Math.Log(sum));
    }

    private static float ToLogprob(float raw, float logSumExp) =>
        float.IsNaN(raw) ? float.NegativeInfinity : raw - logSumExp;

    /// <summary>The top-N raw logprobs in one pass with a tiny insertion-sorted buffer (N ≤ 20).</summary>
    private void CollectTop(ReadOnlySpan<float> logits, int n, float logSumExp)
    {
        _top.Clear();
        if (n <= 0)
        {
            return;
        }

        n = Math.Min(n, logits.Length);
        Span<float> vals = stackalloc float[n];
        Span<int> ids = stackalloc int[n];
        var count = 0;
        for (var i = 0; i < logits.Length; i++)
        {
            var v = logits[i];
            if (float.IsNaN(v))
            {
                v = float.NegativeInfinity;
            }

            if (count == n && !(v > vals[n - 1]))
            {
                continue; // ties keep the earlier (lower) id
            }

            var j = count < n ? count++ : n - 1;
            while (j > 0 && v > vals[j - 1])
            {
                vals[j] = vals[j - 1];
                ids[j] = ids[j - 1];
                j--;
            }

            vals[j] = v;
            ids[j] = i;
        }

        for (var k = 0; k < count; k++)
        {
            _top.Add(new TokenLogprob(ids[k], vals[k] - logSumExp));
        }
    }

    private static void EnsureCapacity<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size)
        {
            buffer = new T[size];
        }
    }
}
