namespace OrleansInference.Grains;

/// <summary>Scheduling class of a request (mirrors the engine's).</summary>
[GenerateSerializer]
public enum InferencePriority
{
    /// <summary>Latency-sensitive.</summary>
    Interactive = 0,

    /// <summary>Throughput; yields to interactive work.</summary>
    Batch = 1,
}

/// <summary>One chat message.</summary>
[GenerateSerializer, Immutable]
public sealed record ChatMessageDto([property: Id(0)] string Role, [property: Id(1)] string Content);

/// <summary>Sampling parameters as carried through the cluster (see the engine's SamplingParams for meaning).</summary>
[GenerateSerializer, Immutable]
public sealed record SamplingOptions
{
    /// <summary>0 = greedy.</summary>
    [Id(0)] public float Temperature { get; init; } = 1.0f;
    /// <summary>0 disables.</summary>
    [Id(1)] public int TopK { get; init; }
    /// <summary>1 disables.</summary>
    [Id(2)] public float TopP { get; init; } = 1.0f;
    /// <summary>0 disables.</summary>
    [Id(3)] public float MinP { get; init; }
    /// <summary>1 disables.</summary>
    [Id(4)] public float RepetitionPenalty { get; init; } = 1.0f;
    /// <summary>OpenAI presence penalty.</summary>
    [Id(5)] public float PresencePenalty { get; init; }
    /// <summary>OpenAI frequency penalty.</summary>
    [Id(6)] public float FrequencyPenalty { get; init; }
    /// <summary>RNG seed; the request grain assigns one when absent so failover resumes the same stream.</summary>
    [Id(7)] public ulong? Seed { get; init; }
    /// <summary>Maximum generated tokens per sample.</summary>
    [Id(8)] public int MaxTokens { get; init; } = 16;
    /// <summary>Stop strings.</summary>
    [Id(9)] public IReadOnlyList<string> Stop { get; init; } = [];
    /// <summary>Stop token ids.</summary>
    [Id(10)] public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Keep going after EOS.</summary>
    [Id(11)] public bool IgnoreEos { get; init; }
    /// <summary>Null: none; else the number of top alternatives.</summary>
    [Id(12)] public int? Logprobs { get; init; }
    /// <summary>Number of samples.</summary>
    [Id(13)] public int N { get; init; } = 1;
}

/// <summary>A request as submitted to a request grain. Exactly one of the prompt forms is set.</summary>
[GenerateSerializer, Immutable]
public sealed record InferenceRequest
{
    /// <summary>Served model name.</summary>
    [Id(0)] public required string Model { get; init; }
    /// <summary>Prompt text (completions).</summary>
    [Id(1)] public string? Prompt { get; init; }
    /// <summary>Prompt token ids.</summary>
    [Id(2)] public IReadOnlyList<int>? PromptTokenIds { get; init; }
    /// <summary>Chat messages, rendered with the model's chat template.</summary>
    [Id(3)] public IReadOnlyList<ChatMessageDto>? Messages { get; init; }
    /// <summary>Sampling.</summary>
    [Id(4)] public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Priority class.</summary>
    [Id(5)] public InferencePriority Priority { get; init; } = InferencePriority.Interactive;
    /// <summary>Cache isolation salt.</summary>
    [Id(6)] public string? CacheSalt { get; init; }
}
