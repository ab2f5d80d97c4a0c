using OrleansInference.Native.Backends;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>The real backend, except that the forward pass throws while <see cref="Fail"/> is set.</summary>
internal sealed class FaultInjectingBackend(IComputeBackend inner) : IComputeBackend
{
    public volatile bool Fail;

    public int Failures { get; private set; }

    public string Name => inner.Name;

    public ModelConfig Model => inner.Model;

    public KvLayout Layout => inner.Layout;

    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits)
    {
        if (Fail)
        {
            Failures++;
            throw new InvalidOperationException("injected device fault");
        }
        inner.Forward(chunks, logits);
    }

    public void CopyBlock(int source, int destination) => inner.CopyBlock(source, destination);

    public void ReadBlock(int block, Span<byte> destination) => inner.ReadBlock(block, destination);

    public void WriteBlock(int block, ReadOnlySpan<byte> source) => inner.WriteBlock(block, source);

    public void Dispose() => inner.Dispose();
}
