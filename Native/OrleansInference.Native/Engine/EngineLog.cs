using Microsoft.Extensions.Logging;

namespace OrleansInference.Native.Engine;

/// <summary>The engine's log messages.</summary>
internal static partial class EngineLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information,
        Message = "Engine started: model {ModelId} on {Device}, {NumBlocks} KV blocks of {BlockSize} tokens ({KvMiB:F1} MiB), max model length {MaxModelLength}")]
    public static partial void Started(ILogger logger, string modelId, string device, int numBlocks, int blockSize, double kvMiB, int maxModelLength);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Engine stopped; {OpenRequests} open requests were ended with an error")]
    public static partial void Stopped(ILogger logger, int openRequests);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning,
        Message = "Device {Device} requested, but CUDA is not available ({Reason}); falling back to the CPU backend")]
    public static partial void CudaFallback(ILogger logger, string device, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "Request {RequestId} submitted: {PromptTokens} prompt tokens, {ResumedTokens} resumed, n={N}, max_tokens={MaxTokens}")]
    public static partial void Submitted(ILogger logger, string requestId, int promptTokens, int resumedTokens, int n, int maxTokens);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "Request {RequestId} finished in {TotalMs:F1} ms")]
    public static partial void Finished(ILogger logger, string requestId, double totalMs);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Debug, Message = "Request {RequestId} aborted")]
    public static partial void Aborted(ILogger logger, string requestId);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "Preempted sequence {SequenceId} of request {RequestId} (recompute)")]
    public static partial void Preempted(ILogger logger, long sequenceId, string requestId);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Error, Message = "The forward pass failed; {Requests} requests in the step were ended with an error")]
    public static partial void StepFailed(ILogger logger, Exception exception, int requests);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Error, Message = "A KV event subscriber threw; it keeps receiving events")]
    public static partial void SubscriberFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Imported {Blocks} KV blocks ({Present} already cached) for {Tokens} prompt tokens")]
    public static partial void Imported(ILogger logger, int blocks, int present, int tokens);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "KV import ignored: prefix caching is disabled on this engine")]
    public static partial void ImportWithoutPrefixCache(ILogger logger);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Critical, Message = "The engine loop failed; every open request is ended with an error")]
    public static partial void LoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "MaxModelLength {Requested} exceeds the model's {ModelMax} positions; using {ModelMax}")]
    public static partial void ModelLengthClamped(ILogger logger, int requested, int modelMax);
}
