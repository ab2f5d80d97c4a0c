using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Requests;

/// <summary>
/// The two shortcuts of the request path before the first token. Both keep the conductor's view exact: it still
/// records every placement and completion.
/// </summary>
internal sealed partial class RequestGrain
{
    /// <summary>
    /// The conductor's placement, or, when the model's only live worker is on this silo (and nothing is excluded), that
    /// worker at once, with the placement recorded by the conductor in the background (<paramref name="placement"/>'s
    /// bookkeeping is awaited before the job's completion is reported: see the returned task).
    /// </summary>
    private async Task<(PlacementDecision Decision, Task? Noted)> PlaceJobAsync(PlacementRequest placement, CancellationToken ct)
    {
        if (_options.SoleWorkerShortcut && placement.ExcludeWorkers.Count == 0 && _host.FindSoleWorker(_request!.Model) is { } sole)
        {
            // Queued behind this turn on the grain's scheduler, so the job reaches the engine before the message is sent.
            var noted = Task.Factory.StartNew(() => NotePlacedAsync(placement, sole.Id), CancellationToken.None,
                TaskCreationOptions.None, TaskScheduler.Current).Unwrap();
            return (new PlacementDecision(sole.Id, 0, "sole-worker", 0), noted);
        }
        return (await PlaceAsync(placement, ct), null);
    }

    private async Task NotePlacedAsync(PlacementRequest placement, string workerId)
    {
        try
        {
            await Conductor.NotePlacedAsync(placement, workerId);
        }
        catch (Exception ex)
        {
            // Only in-flight accounting suffers, as when a completion is lost.
            Log.NoteFailed(_logger, ex, RequestId);
        }
    }

    /// <summary>
    /// The worker's stream: run in place when the worker's engine is on this silo (no grain hop before the first
    /// token; the worker grain would only relay the same stream), else through the worker grain.
    /// </summary>
    private IAsyncEnumerable<TokenChunk> OpenWorkerStream(string workerId, WorkerJob job, CancellationToken ct) =>
        _host.TryGetWorker(workerId, out var local)
            ? JobStream.RunAsync(local, job, _logger, ct)
            : GrainFactory.GetGrain<IWorkerGrain>(workerId).RunAsync(job, ct);
}
