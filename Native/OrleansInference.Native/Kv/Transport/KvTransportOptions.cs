namespace OrleansInference.Native.Kv.Transport;

/// <summary>Deadlines and buffers of a KV transport link (configuration section <c>KvTransport</c>).</summary>
public sealed class KvTransportOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "KvTransport";

    /// <summary>The longest one transfer may take, waiting for the peer's offer included; then it fails with <see cref="KvTransferError.Timeout"/>.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long connecting may wait for the peer to join.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Most GPU memory a link's staging buffer may take; a transfer larger than this goes in rounds of layers.</summary>
    public int StagingMiB { get; set; } = 256;

    /// <summary>Test hook: called on the receiving end after each round of layers has arrived, with the layers received so far.</summary>
    internal Action<int>? RoundReceived { get; set; }

    internal void Validate()
    {
        if (Timeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), "KV transport deadlines must be positive.");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(StagingMiB);
    }
}
