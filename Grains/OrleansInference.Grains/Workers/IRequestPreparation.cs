using OrleansInference.Grains.Requests;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// Validation and tokenization of a request by a worker's engine, for request grains on silos without the model.
/// Implemented by the worker grain (internal: only the control plane calls it).
/// </summary>
internal interface IRequestPreparation : IGrainWithStringKey
{
    /// <summary>The request checked against the model and tokenized, its seed fixed; <see cref="InferenceException"/> when refused.</summary>
    Task<PreparedRequest> PrepareAsync(string requestId, InferenceRequest request);
}
