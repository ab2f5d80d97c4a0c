namespace OrleansInference.Client;

/// <summary>How the SDK reaches the cluster and how it resumes stalled streams (configuration section <c>OrleansInference</c>).</summary>
public sealed class OrleansInferenceClientOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "OrleansInference";

    /// <summary>
    /// Silo gateways as <c>host:port</c> (static clustering). With neither gateways nor <see cref="Redis"/>, the client
    /// connects to a silo on this machine at port 30000.
    /// </summary>
    public List<string> Gateways { get; set; } = [];

    /// <summary>StackExchange.Redis connection string of a Redis-clustered deployment (takes precedence over gateways).</summary>
    public string? Redis { get; set; }

    /// <summary>Cluster id; must match the silos'.</summary>
    public string ClusterId { get; set; } = "orleans-inference";

    /// <summary>Service id; must match the silos'.</summary>
    public string ServiceId { get; set; } = "orleans-inference";

    /// <summary>Model used when a request or chat options name none.</summary>
    public string? DefaultModel { get; set; }

    /// <summary>
    /// When no chunk arrives for this long during generation, the client re-attaches to the request (same request id,
    /// tokens received so far), which survives the loss of the silo holding the request grain.
    /// </summary>
    public TimeSpan TokenIdleTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Like <see cref="TokenIdleTimeout"/> but for the first chunk, which waits for queueing and the prompt's prefill.</summary>
    public TimeSpan FirstTokenTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Re-attachments in a row without a new chunk before the stream fails with <see cref="InferenceTimeoutException"/>.</summary>
    public int MaxReattachAttempts { get; set; } = 5;
}
