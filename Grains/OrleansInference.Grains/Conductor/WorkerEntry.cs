namespace OrleansInference.Grains.Conductor;

/// <summary>The conductor's soft state about one worker.</summary>
internal sealed class WorkerEntry(WorkerRegistration registration)
{
    public WorkerRegistration Registration { get; set; } = registration;

    public WorkerLoad? Load { get; set; }

    /// <summary>Uncached prompt tokens placed on the worker since its last load report (the report does not show them yet).</summary>
    public long UnreportedTokens { get; set; }

    public int InFlight { get; set; }

    public long Placements { get; set; }
}

/// <summary>A placed job that has not completed yet.</summary>
internal readonly record struct InFlightJob(string WorkerId, long PlacedAt, long UncachedTokens);
