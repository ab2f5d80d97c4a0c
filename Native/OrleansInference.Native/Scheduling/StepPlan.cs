using OrleansInference.Native.Kv;

namespace OrleansInference.Native.Scheduling;

/// <summary>One sequence's work in a step: compute tokens <c>Start .. Start + Count</c>.</summary>
/// <param name="Sequence">The sequence.</param>
/// <param name="Start">First position computed (equals its <see cref="Sequence.NumComputed"/>).</param>
/// <param name="Count">Tokens computed.</param>
/// <param name="Copy">A copy-on-write the backend must do before the step.</param>
internal readonly record struct ScheduledChunk(Sequence Sequence, int Start, int Count, BlockCopy? Copy)
{
    /// <summary>The chunk reaches the last token: its logits choose the next token.</summary>
    public bool SamplesNext => Start + Count == Sequence.Length;
}

/// <summary>What one step computes.</summary>
internal sealed class StepPlan
{
    public List<ScheduledChunk> Chunks { get; } = [];

    /// <summary>Sequences preempted while planning (their blocks are already freed).</summary>
    public List<Sequence> Preempted { get; } = [];

    public int Tokens => Chunks.Sum(c => c.Count);

    public bool IsEmpty => Chunks.Count == 0;

    /// <summary>Copies to run before the forward pass, in order.</summary>
    public IEnumerable<BlockCopy> Copies => Chunks.Where(c => c.Copy is not null).Select(c => c.Copy!.Value);
}
