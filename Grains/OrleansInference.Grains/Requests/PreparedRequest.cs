namespace OrleansInference.Grains.Requests;

/// <summary>A validated, tokenized request with its seed fixed and its prompt's block hashes.</summary>
internal sealed record PreparedRequest(
    string RequestId,
    string Model,
    int[] PromptTokenIds,
    ulong[] BlockHashes,
    SamplingOptions Sampling,
    InferencePriority Priority,
    string? CacheSalt);
