namespace OrleansInference.Native.Scheduling;

/// <summary>Where a sequence is in its life.</summary>
internal enum SequenceStatus
{
    /// <summary>Queued (new, or preempted and waiting to recompute).</summary>
    Waiting,

    /// <summary>Holds blocks and is scheduled each step.</summary>
    Running,

    /// <summary>Done or aborted; holds nothing.</summary>
    Finished,
}
