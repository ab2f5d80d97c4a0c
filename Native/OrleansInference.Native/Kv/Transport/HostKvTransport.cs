using System.Diagnostics;
using System.Threading.Channels;

namespace OrleansInference.Native.Kv.Transport;

/// <summary>
/// The host-copy path between two engines in one process: the sender serializes the prefix with
/// <see cref="IInferenceEngine.ExportKvAsync"/> (the OIKV layout), the receiver checks and installs it with
/// <see cref="IInferenceEngine.ImportKvAsync"/>. Every block is copied (no skipping of blocks the receiver has).
/// </summary>
internal sealed class HostKvTransport : IKvTransport
{
    private readonly HostKvLink _link;
    private readonly int _side;
    private readonly IInferenceEngine _engine;
    private readonly KvTransportOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile string? _fault;

    private HostKvTransport(HostKvLink link, int side, IInferenceEngine engine, KvTransportOptions options)
    {
        _link = link;
        _side = side;
        _engine = engine;
        _options = options;
    }

    public string Kind => "host";

    public bool IsFaulted => _fault is not null;

    private Channel<HostOffer> Outbox => _link.Queues[_side];

    private Channel<HostOffer> Inbox => _link.Queues[1 - _side];

    private CancellationToken PeerClosed => _link.Closed[1 - _side].Token;

    public static (IKvTransport First, IKvTransport Second) CreatePair(IInferenceEngine first, IInferenceEngine second, KvTransportOptions options)
    {
        var link = new HostKvLink();
        return (new HostKvTransport(link, 0, first, options), new HostKvTransport(link, 1, second, options));
    }

    public async Task<KvTransferResult> SendAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            byte[]? payload;
            try
            {
                payload = await _engine.ExportKvAsync(tokenIds, cacheSalt, cancellationToken).ConfigureAwait(false);
            }
            catch (EngineRequestException e)
            {
                throw new KvTransferException(KvTransferError.Failed, "The sending engine cannot export: " + e.Message, e);
            }

            var offer = new HostOffer(payload);
            if (!Outbox.Writer.TryWrite(offer))
            {
                throw Fault(KvTransferError.PeerFailed, "The receiving end of the host KV link is closed.");
            }

            var reply = await WaitAsync(offer.Reply.Task, "the receiver's answer", cancellationToken).ConfigureAwait(false);
            return reply with { Elapsed = Stopwatch.GetElapsedTime(started) };
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<KvTransferResult> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var offer = await WaitAsync(Inbox.Reader.ReadAsync(cancellationToken).AsTask(), "an offer", cancellationToken).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            KvTransferResult result;
            try
            {
                int tokens = offer.Payload is null ? 0 : await _engine.ImportKvAsync(offer.Payload, cancellationToken).ConfigureAwait(false);
                var blocks = offer.Payload is null ? 0 : tokens / _engine.Info.BlockSize;
                var elapsed = Stopwatch.GetElapsedTime(started);
                result = new KvTransferResult(blocks, 0, tokens, offer.Payload?.LongLength ?? 0, elapsed, elapsed);
            }
            catch (InvalidDataException e)
            {
                var error = new KvTransferException(KvTransferError.Incompatible, "The receiver refused the KV prefix: " + e.Message, e);
                offer.Reply.TrySetException(error);
                throw error;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                offer.Reply.TrySetException(new KvTransferException(KvTransferError.PeerFailed, "The receiver failed to install the KV prefix: " + e.Message, e));
                throw new KvTransferException(KvTransferError.Failed, "Installing the received KV prefix failed: " + e.Message, e);
            }
            catch (OperationCanceledException)
            {
                offer.Reply.TrySetException(new KvTransferException(KvTransferError.PeerFailed, "The receiver cancelled the transfer."));
                throw;
            }

            offer.Reply.TrySetResult(result);
            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    public ValueTask DisposeAsync()
    {
        _fault ??= "The link was disposed.";
        _link.Closed[_side].Cancel();
        Outbox.Writer.TryComplete();
        while (Inbox.Reader.TryRead(out var pending))
        {
            pending.Reply.TrySetException(new KvTransferException(KvTransferError.PeerFailed, "The receiving end of the host KV link was disposed."));
        }

        return ValueTask.CompletedTask;
    }

    private async Task EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_fault is { } why)
        {
            _gate.Release();
            throw new KvTransferException(KvTransferError.LinkFaulted, "The KV link is faulted: " + why);
        }
    }

    /// <summary>Waits for <paramref name="task"/> until the deadline, the peer's end closing, or cancellation.</summary>
    private async Task<T> WaitAsync<T>(Task<T> task, string what, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(_options.Timeout);
        using var any = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, PeerClosed);
        try
        {
            return await task.WaitAsync(any.Token).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fault(KvTransferError.Failed, "A transfer was cancelled midway.");
            throw;
        }
        catch (OperationCanceledException) when (PeerClosed.IsCancellationRequested)
        {
            throw Fault(KvTransferError.PeerFailed, $"The peer closed the host KV link while this end waited for {what}.");
        }
        catch (OperationCanceledException)
        {
            throw Fault(KvTransferError.Timeout, $"No {what} within {_options.Timeout.TotalSeconds:0.###} s.");
        }
        catch (ChannelClosedException)
        {
            throw Fault(KvTransferError.PeerFailed, $"The peer closed the host KV link while this end waited for {what}.");
        }
    }

    private KvTransferException Fault(KvTransferError error, string message)
    {
        _fault ??= message;
        return new KvTransferException(error, message);
    }

    private sealed class HostKvLink
    {
        public Channel<HostOffer>[] Queues { get; } = [Channel.CreateUnbounded<HostOffer>(), Channel.CreateUnbounded<HostOffer>()];

        public CancellationTokenSource[] Closed { get; } = [new(), new()];
    }

    private sealed class HostOffer(byte[]? payload)
    {
        public byte[]? Payload { get; } = payload;

        public TaskCompletionSource<KvTransferResult> Reply { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
