using Orleans.Runtime;
using Orleans.Runtime.Messaging;

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

    public static bool IsWorkerGone(Exception ex) => ex switch
    {
        SiloUnavailableException => true,
        ConnectionFailedException => true,
        OrleansMessageRejectionException => true,
        InferenceException { Code: InferenceErrorCode.Unavailable } => true,
        // The worker's silo lost the stream's enumerator (it was cut off or restarted while the stream was idle), or a
        // call to it timed out: the job is gone with it (found by the chaos run's partition step).
        TimeoutException => true,
        _ when ex.GetType().Name == "EnumerationAbortedException" => true,
        AggregateException { InnerExceptions.Count: 1 } a => IsWorkerGone(a.InnerExceptions[0]),
        _ => false,
    };
}
