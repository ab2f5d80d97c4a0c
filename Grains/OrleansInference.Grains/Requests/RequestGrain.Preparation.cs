using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Requests;

/// <summary>Preparing a request on a silo that does not serve its model.</summary>
internal sealed partial class RequestGrain
{
    /// <summary>
    /// Validates and tokenizes the request on a worker of its model elsewhere (the tokenizer and limits live with the
    /// engines); the conductor then places it as usual. A silo that only routes (no engine, or other models) thus
    /// serves every model of the cluster.
    /// </summary>
    private async Task<PreparedRequest> PrepareElsewhereAsync(InferenceRequest request)
    {
        var model = request.Model;
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, "model is required.", "model");
        }
        var workers = await GrainFactory.GetGrain<IConductorGrain>(model).GetWorkersAsync();
        if (workers.Count == 0)
        {
            throw new InferenceException(InferenceErrorCode.ModelNotFound, $"The model '{model}' does not exist.", "model");
        }
        // Any worker of the model has its tokenizer: take the least busy one.
        var worker = workers.MinBy(w => w.InFlight)!.Registration.WorkerId;
        return await GrainFactory.GetGrain<IRequestPreparation>(worker).PrepareAsync(RequestId, request);
    }
}
