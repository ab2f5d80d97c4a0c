namespace OrleansInference.Grains.Requests;

/// <summary>
/// Decides whether a failed worker call is moved to another worker: only when the failure means the worker (or its
/// silo) is gone, and at most <see cref="MaxMigrations"/> times per request. The moved job resumes from the tokens
/// already delivered, one job per unfinished sample.
/// </summary>
internal sealed class MigrationPolicy(int maxMigrations)
{
    public int MaxMigrations { get; } = Math.Max(0, maxMigrations);

    public bool ShouldMigrate(Exception failure, int migrationsSoFar) =>
        CanMigrate(migrationsSoFar) && IsWorkerGone(failure);

    /// <summary>Whether a request that has moved <paramref name="migrationsSoFar"/> times may move again.</summary>
    public bool CanMigrate(int migrationsSoFar) => migrationsSoFar < MaxMigrations;

    /// <summary>The call's target went away, or the worker itself answered that it cannot serve (unavailable).</summary>
    public static bool IsWorkerGone(Exception ex) => ex is AggregateException { InnerExceptions.Count: 1 } a
        ? IsWorkerGone(a.InnerExceptions[0])
        : LostCalls.IsLostTarget(ex) || ex is InferenceException { Code: InferenceErrorCode.Unavailable };
}
