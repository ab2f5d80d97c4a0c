using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>Translations between the grain contracts and the engine's.</summary>
internal static class JobMapping
{
    public static GenerationRequest ToGenerationRequest(WorkerJob job) => new()
    {
        RequestId = job.RequestId,
        PromptTokenIds = job.PromptTokenIds,
        Sampling = ToSamplingParams(job.Sampling),
        Priority = job.Priority == InferencePriority.Batch ? RequestPriority.Batch : RequestPriority.Interactive,
        ResumeOutputTokenIds = job.ResumeOutputTokenIds,
        FirstSampleIndex = job.FirstSampleIndex,
        CacheSalt = job.CacheSalt,
    };

    public static SamplingParams ToSamplingParams(SamplingOptions s) => new()
    {
        Temperature = s.Temperature,
        TopK = s.TopK,
        TopP = s.TopP,
        MinP = s.MinP,
        RepetitionPenalty = s.RepetitionPenalty,
        PresencePenalty = s.PresencePenalty,
        FrequencyPenalty = s.FrequencyPenalty,
        Seed = s.Seed,
        MaxTokens = s.MaxTokens,
        StopStrings = s.Stop,
        StopTokenIds = s.StopTokenIds,
        IgnoreEos = s.IgnoreEos,
        Logprobs = s.Logprobs,
        N = s.N,
    };

    public static InferenceFinishReason? ToFinishReason(FinishReason? reason) => reason switch
    {
        null => null,
        FinishReason.Stop => InferenceFinishReason.Stop,
        FinishReason.Length => InferenceFinishReason.Length,
        FinishReason.Aborted => InferenceFinishReason.Cancelled,
        _ => InferenceFinishReason.Error,
    };

    public static InferenceErrorCode ToErrorCode(EngineErrorKind kind) => kind switch
    {
        EngineErrorKind.InvalidRequest => InferenceErrorCode.InvalidRequest,
        EngineErrorKind.PromptTooLong => InferenceErrorCode.TooLarge,
        EngineErrorKind.Overloaded => InferenceErrorCode.Overloaded,
        EngineErrorKind.DuplicateRequest => InferenceErrorCode.InvalidRequest,
        _ => InferenceErrorCode.Unavailable,
    };

    public static WorkerLoad ToWorkerLoad(string workerId, EngineLoad l) => new()
    {
        WorkerId = workerId,
        Waiting = l.Waiting,
        Running = l.Running,
        PendingPrefillTokens = l.PendingPrefillTokens,
        FreeBlocks = l.FreeBlocks + l.CachedBlocks,
        TotalBlocks = l.TotalBlocks,
        PrefixHitTokens = l.PrefixHitTokens,
        PrefixQueryTokens = l.PrefixQueryTokens,
        PrefillTokensComputed = l.PrefillTokensComputed,
        CachedBlocks = l.CachedBlocks,
    };
}
