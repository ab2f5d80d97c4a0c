namespace OrleansInference.Silo.Http;

/// <summary>Limits and defaults of the HTTP APIs, bound from configuration section <c>Http</c>.</summary>
public sealed class HttpApiOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Http";

    /// <summary>Largest accepted request body; larger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Largest accepted prompt in tokens (token-id prompts are checked here, text prompts by the engine); 0 = the
    /// model's context length.
    /// </summary>
    public int MaxPromptTokens { get; set; }

    /// <summary>Largest <c>n</c> (samples per request).</summary>
    public int MaxSamples { get; set; } = 16;

    /// <summary>Largest number of stop strings.</summary>
    public int MaxStopStrings { get; set; } = 16;

    /// <summary><c>max_tokens</c> of a completion request that leaves it out (OpenAI's default).</summary>
    public int DefaultCompletionMaxTokens { get; set; } = 16;

    /// <summary><c>max_tokens</c> of a chat or KServe request that leaves it out.</summary>
    public int DefaultChatMaxTokens { get; set; } = 256;

    /// <summary>Seconds sent in <c>Retry-After</c> with 429 responses.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>Time to wait for the request grain to acknowledge a cancellation after the client went away.</summary>
    public TimeSpan CancelTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How many times a response re-attaches to its request grain when the grain's stream is lost (its silo died or
    /// stopped, or the grain was moved): the request grain resumes from its checkpoint and the client's stream goes on
    /// from the tokens already sent, without an error. 0 turns this off (the client sees a 503 and can resume with
    /// <c>Last-Event-ID</c>).
    /// </summary>
    public int StreamReattachAttempts { get; set; } = 3;

    /// <summary>Pause before the second and later re-attachments (multiplied by the attempt number).</summary>
    public TimeSpan StreamReattachDelay { get; set; } = TimeSpan.FromMilliseconds(250);
}
