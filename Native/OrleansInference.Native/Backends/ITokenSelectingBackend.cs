namespace OrleansInference.Native.Backends;

/// <summary>
/// How one logits row of a step is turned into a token on the device: the subset of <see cref="SamplingParams"/> a
/// backend can apply without the host seeing the logits (no penalties, no logprobs), plus the RNG counter.
/// </summary>
/// <param name="Temperature">Softmax temperature; 0 or less (or so small that its inverse overflows) means argmax.</param>
/// <param name="TopK">Keep the k most likely tokens; 0 or less disables.</param>
/// <param name="TopP">Nucleus mass; 1 disables.</param>
/// <param name="MinP">Minimum probability relative to the most likely token; 0 disables.</param>
/// <param name="Seed">The request's seed (Philox key).</param>
/// <param name="Position">Absolute position of the token being chosen (Philox counter).</param>
/// <param name="SampleIndex">Sample index within the request (Philox counter).</param>
public readonly record struct RowSampling(float Temperature, int TopK, float TopP, float MinP, ulong Seed, long Position, int SampleIndex)
{
    /// <summary>Argmax rather than a draw (the rule of <see cref="Sampling.TokenSampler"/>).</summary>
    public bool IsGreedy => Temperature <= 0f || float.IsInfinity(1f / Temperature);

    /// <summary>A greedy row.</summary>
    public static RowSampling Greedy => new(0f, 0, 1f, 0f, 0, 0, 0);

    /// <summary>The row for <paramref name="p"/>, or null when the host must see the logits (penalties, logprobs).</summary>
    public static RowSampling? For(SamplingParams p, ulong seed, long position, int sampleIndex)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.Logprobs is not null || p.RepetitionPenalty != 1f || p.FrequencyPenalty != 0f || p.PresencePenalty != 0f)
        {
            return null;
        }

        return new RowSampling(p.Temperature, p.TopK, p.TopP, p.MinP, seed, position, sampleIndex);
    }
}

/// <summary>
/// Optional capability of a <see cref="IComputeBackend"/>: run a step and choose each logits row's token where the
/// logits are, so only token ids cross back to the host. The choice must be the one
/// <see cref="Sampling.TokenSampler"/> makes from the same logits (argmax ties to the lower id; draws by
/// <see cref="Sampling.PhiloxRng"/>(seed, position, sample index) through the canonical order), so an engine may use
/// either path and a resumed generation continues identically.
/// </summary>
public interface ITokenSelectingBackend : IComputeBackend
{
    /// <summary>
    /// Runs a step like <see cref="IComputeBackend.Forward"/>; every chunk must be <see cref="LogitsMode.Last"/> or
    /// <see cref="LogitsMode.None"/>, and <paramref name="rows"/> holds one entry per logits row in chunk order.
    /// Writes the chosen token of each row to <paramref name="tokenIds"/>.
    /// </summary>
    void ForwardSelect(IReadOnlyList<SequenceChunk> chunks, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds);
}
