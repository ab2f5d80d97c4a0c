namespace OrleansInference.Grains.Requests;

/// <summary>
/// A validated, tokenized request with its seed fixed and its prompt's block hashes. Serializable: a silo without the
/// model has it prepared by a worker elsewhere.
/// </summary>
[GenerateSerializer, Immutable]
internal sealed record PreparedRequest(
    [property: Id(0)] string RequestId,
    [property: Id(1)] string Model,
    [property: Id(2)] int[] PromptTokenIds,
    [property: Id(3)] ulong[] BlockHashes,
    [property: Id(4)] SamplingOptions Sampling,
    [property: Id(5)] InferencePriority Priority,
    [property: Id(6)] string? CacheSalt);
