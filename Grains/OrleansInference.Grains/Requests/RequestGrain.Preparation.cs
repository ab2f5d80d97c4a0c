using OrleansInference.Grains.Models;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Requests;

/// <summary>Preparing a request on a silo that does not serve its model.</summary>
internal sealed partial class RequestGrain
{
    /// <summary>
    /// Validates and tokenizes the request on a worker of its model elsewhere (the tokenizer, chat template and limits
    /// live with the engines); the conductor then places it as usual. A silo that only routes (no engine, or other
    /// models) thus serves every model of the cluster. A model neither the registry nor this silo has ever seen is not
    /// found; a known one whose conductor has no worker (all gone, or the conductor was just reactivated and its workers have not
    /// re-registered yet) is waited for as long as placement would wait, then unavailable.
    /// </summary>
    private async Task<PreparedRequest> PrepareElsewhereAsync(InferenceRequest request)
    {
        var model = request.Model;
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, "model is required.", "model");
        }
        var conductor = GrainFactory.GetGrain<IConductorGrain>(model);
        var workers = await conductor.GetWorkersAsync();
        if (workers.Count == 0)
        {
            if ((await _models.FindAsync(model, CancellationToken.None)).State == ClusterModelState.Unknown)
            {
                throw InferenceException.ModelNotServed(model);
            }
            var waitingSince = _time.GetTimestamp();
            while (workers.Count == 0 && _time.GetElapsedTime(waitingSince) < _options.PlacementWaitForWorkers)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), _time);
                workers = await conductor.GetWorkersAsync();
            }
            if (workers.Count == 0)
            {
                throw InferenceException.NoLiveWorker(model);
            }
        }
        // Any worker of the model has its tokenizer: take the least busy one.
        var worker = workers.MinBy(w => w.InFlight)!.Registration.WorkerId;
        return await GrainFactory.GetGrain<IRequestPreparation>(worker).PrepareAsync(RequestId, request);
    }
}
