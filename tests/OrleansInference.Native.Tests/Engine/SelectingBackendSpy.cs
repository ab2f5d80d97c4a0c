using OrleansInference.Native.Backends;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>A selecting backend that counts which path the engine took for each step.</summary>
internal sealed class SelectingBackendSpy(ITokenSelectingBackend inner) : ITokenSelectingBackend
{
    public int LogitsSteps { get; private set; }

    public int SelectSteps { get; private set; }

    /// <summary>Sampling rows passed to <see cref="ForwardSelect"/>, in order.</summary>
    public List<RowSampling> Rows { get; } = [];

    public string Name => inner.Name;

    public ModelConfig Model => inner.Model;

    public KvLayout Layout => inner.Layout;

    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits)
    {
        LogitsSteps++;
        inner.Forward(chunks, logits);
    }

    public void ForwardSelect(IReadOnlyList<SequenceChunk> chunks, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds)
    {
        SelectSteps++;
        Rows.AddRange(rows);
        inner.ForwardSelect(chunks, rows, tokenIds);
    }

    public void CopyBlock(int source, int destination) => inner.CopyBlock(source, destination);

    public void ReadBlock(int block, Span<byte> destination) => inner.ReadBlock(block, destination);

    public void WriteBlock(int block, ReadOnlySpan<byte> source) => inner.WriteBlock(block, source);

    public void Dispose() => inner.Dispose();
}
