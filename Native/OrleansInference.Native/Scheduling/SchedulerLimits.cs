namespace OrleansInference.Native.Scheduling;

/// <summary>Per-step limits of the scheduler.</summary>
/// <param name="MaxBatchTokens">Tokens computed per step (decodes plus prefill chunks).</param>
/// <param name="MaxRunningSequences">Sequences holding blocks at once.</param>
internal sealed record SchedulerLimits(int MaxBatchTokens, int MaxRunningSequences);
