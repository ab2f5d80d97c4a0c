using OrleansInference.Native.Backends;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Cpu;

/// <summary>Token selection next to the logits: the CPU's side of <see cref="ITokenSelectingBackend"/>.</summary>
public sealed partial class CpuBackend : ITokenSelectingBackend
{
    private readonly TokenSampler _selector = new();
    private float[] _selectLogits = [];

    /// <inheritdoc />
    /// <remarks>The logits stay in memory the CPU already owns, so this is <see cref="Forward"/> plus <see cref="TokenSampler"/>.</remarks>
    public void ForwardSelect(IReadOnlyList<SequenceChunk> chunks, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds)
    {
        var count = SelectionRows.Count(chunks, rows, tokenIds);
        var vocab = _config.VocabSize;
        if (_selectLogits.Length < (long)count * vocab)
        {
            _selectLogits = new float[(long)count * vocab];
        }

        Forward(chunks, _selectLogits.AsSpan(0, count * vocab));
        for (var r = 0; r < count; r++)
        {
            var row = _selectLogits.AsSpan(r * vocab, vocab);
            var s = rows[r];
            var p = new SamplingParams { Temperature = s.IsGreedy ? 0f : s.Temperature, TopK = s.TopK, TopP = s.TopP, MinP = s.MinP };
            tokenIds[r] = _selector.Sample(row, p, [], [], s.Position, s.SampleIndex, s.Seed).TokenId;
        }
    }
}
