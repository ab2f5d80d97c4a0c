namespace OrleansInference.Native;

/// <summary>
/// One end of a link between two engines that moves the KV blocks of a cached prefix from one to the other
/// (disaggregated prefill, warming a new worker). The control plane decides which end sends; the other end calls
/// <see cref="ReceiveAsync"/> for the same transfer. Transfers on one link run one at a time, in call order.
/// Implementations: an in-memory host-copy pair (<see cref="Kv.Transport.KvTransports.CreateHostPair"/>) and NCCL
/// between GPUs (<see cref="Kv.Transport.KvTransports.ConnectNcclAsync"/>).
/// </summary>
/// <remarks>
/// Failures are <see cref="KvTransferException"/>s, raised within the configured deadline, never a hang. Neither end
/// leaks KV blocks: the sender releases its hold on the blocks it offered whatever happens, and the receiver returns
/// the blocks it reserved when the transfer does not complete. After a timeout or a lost peer the link is faulted
/// (<see cref="IsFaulted"/>) and every later call fails at once with <see cref="KvTransferError.LinkFaulted"/>.
/// </remarks>
public interface IKvTransport : IAsyncDisposable
{
    /// <summary>The mechanism: <c>host</c> or <c>nccl</c>.</summary>
    string Kind { get; }

    /// <summary>Whether an earlier failure left the link unusable (make a new one).</summary>
    bool IsFaulted { get; }

    /// <summary>
    /// Offers the longest cached prefix of <paramref name="tokenIds"/> (whole blocks) to the peer and sends the blocks it
    /// does not have yet. Completes when the peer has installed them. Nothing cached: an empty transfer.
    /// </summary>
    Task<KvTransferResult> SendAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default);

    /// <summary>Waits (up to the configured deadline) for the peer's next offer, checks it, and installs its blocks in the local prefix cache.</summary>
    Task<KvTransferResult> ReceiveAsync(CancellationToken cancellationToken = default);
}

/// <summary>What one transfer did, as seen by the end that reports it.</summary>
/// <param name="BlocksMoved">Blocks whose bytes crossed the link.</param>
/// <param name="BlocksPresent">Leading blocks of the prefix the receiver already had (not sent).</param>
/// <param name="CachedTokens">Tokens of the prefix cached on the receiver afterwards.</param>
/// <param name="Bytes">KV bytes moved.</param>
/// <param name="Elapsed">The whole transfer, handshake included.</param>
/// <param name="DataElapsed">The data phase alone (gather, send/receive, scatter).</param>
public sealed record KvTransferResult(int BlocksMoved, int BlocksPresent, int CachedTokens, long Bytes, TimeSpan Elapsed, TimeSpan DataElapsed);

/// <summary>Why a KV transfer failed.</summary>
public enum KvTransferError
{
    /// <summary>The peer did not answer or finish before the deadline (it may be dead); the link is faulted.</summary>
    Timeout,

    /// <summary>The peer went away or reported a failure of its own; the link is faulted.</summary>
    PeerFailed,

    /// <summary>The two ends disagree (model, KV shape, block size, hash version, protocol version); the link stays usable.</summary>
    Incompatible,

    /// <summary>An earlier failure broke this link; make a new one.</summary>
    LinkFaulted,

    /// <summary>A local failure (a CUDA error, the engine stopped).</summary>
    Failed,
}

/// <summary>A KV transfer failed; <see cref="Error"/> says how, the message says what.</summary>
public sealed class KvTransferException : Exception
{
    /// <summary>Creates the exception.</summary>
    public KvTransferException(KvTransferError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    /// <summary>How the transfer failed.</summary>
    public KvTransferError Error { get; }
}
