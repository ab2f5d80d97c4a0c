namespace OrleansInference.Native;

/// <summary>Scheduling class: interactive requests are always scheduled before batch ones; FCFS within a class.</summary>
public enum RequestPriority
{
    /// <summary>Latency-sensitive traffic (chat, completions).</summary>
    Interactive = 0,

    /// <summary>Throughput traffic; runs when interactive requests leave room.</summary>
    Batch = 1,
}

/// <summary>One generation submitted to an engine.</summary>
public sealed record GenerationRequest
{
    /// <summary>Unique id; <see cref="IInferenceEngine.Abort"/> takes it.</summary>
    public required string RequestId { get; init; }

    /// <summary>The prompt as token ids. Exactly one of this and <see cref="PromptText"/> is set.</summary>
    public IReadOnlyList<int>? PromptTokenIds { get; init; }

    /// <summary>The prompt as text, tokenized by the engine's tokenizer (with its special-token template).</summary>
    public string? PromptText { get; init; }

    /// <summary>Sampling and stop conditions.</summary>
    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Scheduling class.</summary>
    public RequestPriority Priority { get; init; } = RequestPriority.Interactive;

    /// <summary>
    /// Output tokens already delivered by an earlier attempt (failover/resume). They are prefilled with the prompt,
    /// count toward <see cref="SamplingParams.MaxTokens"/> and penalties, and are not emitted again. Only with N = 1.
    /// </summary>
    public IReadOnlyList<int> ResumeOutputTokenIds { get; init; } = [];

    /// <summary>
    /// Sample index of the first sample (RNG key component). A request split into N single-sample requests uses
    /// 0..N-1 here so each continues its own random stream.
    /// </summary>
    public int FirstSampleIndex { get; init; }

    /// <summary>Optional salt mixed into the block hashes: requests with different salts never share cached KV.</summary>
    public string? CacheSalt { get; init; }
}
