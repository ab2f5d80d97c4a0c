using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Kv.Transport;

/// <summary>
/// KV blocks from GPU to GPU over a two-rank NCCL communicator (one engine per rank, usually in two processes).
/// The protocol, each step a grouped NCCL call on this link's own stream:
/// sender → <see cref="KvWireKind.Offer"/> (64 bytes) and the metadata (token ids, block hashes, salt);
/// receiver checks both against its engine, reserves blocks → <see cref="KvWireKind.Answer"/> (which blocks it takes);
/// sender gathers rounds of layers of those blocks into a staging buffer (one kernel per round) and sends one message
/// per layer; the receiver scatters each round into its own blocks; receiver publishes them → <see cref="KvWireKind.Done"/>.
/// </summary>
/// <remarks>
/// The communicator is non-blocking and every wait polls with the transfer's deadline: a timeout, a dead peer or a
/// cancellation aborts the communicator (<c>ncclCommAbort</c>), faults the link and surfaces as a
/// <see cref="KvTransferException"/>. The sender's hold on its blocks is released whatever happens; the receiver's
/// reserved blocks are returned unless its stream could not be drained after the abort (then they stay held rather
/// than risk a late write into a reused block).
/// </remarks>
internal sealed class NcclKvTransport : IKvTransport
{
    private const int Out = 0;
    private const int In = KvWireMessage.Size;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly InferenceEngine _engine;
    private readonly CudaBackend _backend;
    private readonly CudaContext _context;
    private readonly NcclCommunicator _comm;
    private readonly KvTransportOptions _options;
    private readonly int _peer;
    private readonly CudaStream _stream;
    private readonly KvBlockMover _mover;
    private readonly DeviceBuffer _control;
    private readonly PinnedHostBuffer _hostControl;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DeviceBuffer? _staging;
    private DeviceBuffer? _ids;
    private DeviceBuffer? _meta;
    private PinnedHostBuffer? _hostMeta;
    private volatile string? _fault;
    private bool _stuck;
    private bool _disposed;

    private NcclKvTransport(InferenceEngine engine, CudaBackend backend, NcclCommunicator comm, KvTransportOptions options)
    {
        _engine = engine;
        _backend = backend;
        _context = backend.Context;
        _comm = comm;
        _options = options;
        _peer = 1 - comm.Rank;
        var cleanup = new List<IDisposable>();
        try
        {
            _stream = _context.CreateStream();
            cleanup.Add(_stream);
            _mover = new KvBlockMover(_context, new KernelCompiler(NvrtcApi.Load(), KernelCompiler.DefaultCacheDirectory));
            cleanup.Add(_mover);
            _control = _context.Allocate(2 * KvWireMessage.Size);
            cleanup.Add(_control);
            _hostControl = _context.AllocatePinned(2 * KvWireMessage.Size);
        }
        catch
        {
            for (var i = cleanup.Count - 1; i >= 0; i--)
            {
                cleanup[i].Dispose();
            }

            throw;
        }
    }

    public string Kind => "nccl";

    public bool IsFaulted => _fault is not null;

    /// <summary>This end's rank (0 or 1).</summary>
    public int Rank => _comm.Rank;

    /// <summary>
    /// Joins the two-rank communicator <paramref name="id"/> as <paramref name="rank"/>; both ends must call this
    /// within <see cref="KvTransportOptions.ConnectTimeout"/> of each other.
    /// </summary>
    public static async Task<NcclKvTransport> ConnectAsync(InferenceEngine engine, CudaBackend backend, NcclUniqueId id, int rank, KvTransportOptions options, CancellationToken cancellationToken)
    {
        if (!KvBlockMover.Supports(backend.Layout.BlockBytes / backend.Layout.NumLayers))
        {
            throw new NotSupportedException($"The NCCL KV transport moves layer slices in 16-byte words; this pool's are {backend.Layout.BlockBytes / backend.Layout.NumLayers} bytes.");
        }

        var api = NcclApi.Load();
        var deadline = Environment.TickCount64 + (long)options.ConnectTimeout.TotalMilliseconds;
        NcclCommunicator comm;
        try
        {
            comm = await OnThread(() => NcclCommunicator.CreateNonBlocking(backend.Context, api, id, rank, 2, deadline, cancellationToken)).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new KvTransferException(KvTransferError.Timeout, $"The peer did not join the NCCL KV link within {options.ConnectTimeout.TotalSeconds:0.###} s.", e);
        }
        catch (CudaException e) when (e is not CudaUnavailableException)
        {
            throw new KvTransferException(e.Code == NcclApi.RemoteError ? KvTransferError.PeerFailed : KvTransferError.Failed, "Joining the NCCL KV link failed: " + e.Message, e);
        }

        try
        {
            return new NcclKvTransport(engine, backend, comm, options);
        }
        catch
        {
            comm.Dispose();
            throw;
        }
    }

    public async Task<KvTransferResult> SendAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        await EnterAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            KvBlockLease lease;
            try
            {
                lease = await _engine.HoldCachedPrefixAsync(tokenIds, cacheSalt, _backend.Stream.Synchronize, cancellationToken).ConfigureAwait(false);
            }
            catch (EngineRequestException e)
            {
                throw new KvTransferException(KvTransferError.Failed, "The sending engine cannot lend its blocks: " + e.Message, e);
            }

            try
            {
                return await OnThread(() => Guard(() => Send(lease, started, cancellationToken))).ConfigureAwait(false);
            }
            finally
            {
                await ReleaseQuietly(_engine.ReleaseAsync(lease)).ConfigureAwait(false);
            }
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
            return await OnThread(() => Guard(() => Receive(cancellationToken))).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _fault ??= "The link was disposed.";
            _comm.Dispose();
            if (!_stuck && Drain())
            {
                _staging?.Dispose();
                _ids?.Dispose();
                _meta?.Dispose();
                _hostMeta?.Dispose();
                _control.Dispose();
                _hostControl.Dispose();
                _mover.Dispose();
                _stream.Dispose();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private KvTransferResult Send(KvBlockLease lease, long started, CancellationToken ct)
    {
        var deadline = Deadline();
        var layout = _backend.Layout;
        var n = lease.Blocks.Length;
        var layerBytes = layout.BlockBytes / layout.NumLayers;
        var salt = lease.CacheSalt is null ? null : Encoding.UTF8.GetBytes(lease.CacheSalt);
        var offer = new KvWireMessage(KvWireKind.Offer, KvWireStatus.Accepted, layout.BlockSize, layout.NumLayers, layout.NumKvHeads,
            layout.HeadDim, layout.ElementType, BlockHasher.Version, n * layout.BlockSize, 0, n, salt?.Length ?? -1,
            LayersPerRound(n, layerBytes, layout.NumLayers), KvWireMessage.DigestOf(lease.Hashes));

        // Offer, then its metadata, each its own group: the receiver needs the first to size the second.
        PutMessage(offer);
        _comm.Group([(_control.Pointer + Out, KvWireMessage.Size)], [], _peer, _stream, deadline, ct);
        var metaBytes = WriteMetadata(lease.Tokens, lease.Hashes, salt);
        _comm.Group([(_meta!.Pointer, metaBytes)], [], _peer, _stream, deadline, ct);

        var answer = Expect(KvWireKind.Answer, deadline, ct);
        if (offer.Mismatch(answer) is { } echo)
        {
            throw Fault(KvTransferError.Incompatible, "The receiver's answer does not echo the offer (" + echo + "); the two ends are out of step.");
        }

        if (answer.Status != KvWireStatus.Accepted)
        {
            throw answer.Status == KvWireStatus.Incompatible
                ? new KvTransferException(KvTransferError.Incompatible, "The receiving engine refused the prefix: its model id, cache salt, KV shape, block size or hash version differs (its own error names which).")
                : new KvTransferException(KvTransferError.PeerFailed, "The receiving engine could not reserve blocks for the prefix.");
        }

        var first = answer.FirstBlock;
        var count = answer.BlockCount;
        if (first + count > n)
        {
            throw Fault(KvTransferError.PeerFailed, $"The receiver asked for blocks {first}..{first + count} of {n}.");
        }

        var dataStarted = Stopwatch.GetTimestamp();
        if (count > 0)
        {
            PutIds(lease.Blocks.AsSpan(first, count));
            var perRound = offer.LayersPerRound;
            var slice = count * layerBytes;
            EnsureStaging(perRound * slice);
            var sends = new (ulong, long)[perRound];
            for (var l0 = 0; l0 < layout.NumLayers; l0 += perRound)
            {
                var k = Math.Min(perRound, layout.NumLayers - l0);
                _mover.Gather(_backend.Pool.Pointer, _staging!.Pointer, _ids!.Pointer, count, l0, k, layout.BlockBytes, layerBytes, _stream);
                for (var i = 0; i < k; i++)
                {
                    sends[i] = (_staging.Pointer + (ulong)(i * slice), slice);
                }

                _comm.Group(sends.AsSpan(0, k), [], _peer, _stream, deadline, ct);
            }

            _comm.WaitStream(_stream, "ncclSend (KV layers)", deadline, ct);
        }

        var dataElapsed = Stopwatch.GetElapsedTime(dataStarted);
        var done = Expect(KvWireKind.Done, deadline, ct);
        if (done.Status != KvWireStatus.Accepted || offer.Mismatch(done) is not null)
        {
            throw Fault(KvTransferError.PeerFailed, "The receiver did not confirm the transfer.");
        }

        return new KvTransferResult(count, first, done.TokenCount, count * layout.BlockBytes, Stopwatch.GetElapsedTime(started), dataElapsed);
    }

    private KvTransferResult Receive(CancellationToken ct)
    {
        var deadline = Deadline();
        var layout = _backend.Layout;
        var offer = Expect(KvWireKind.Offer, deadline, ct);
        var started = Stopwatch.GetTimestamp();
        EnsureMeta(offer.MetadataBytes);
        _comm.Group([], [(_meta!.Pointer, offer.MetadataBytes)], _peer, _stream, deadline, ct);
        _context.CopyToHost(_hostMeta!.AsSpan<byte>()[..(int)offer.MetadataBytes], _meta.Pointer, _stream);
        _comm.WaitStream(_stream, "ncclRecv (offer metadata)", deadline, ct);
        var (tokens, hashes, salt) = ReadMetadata(offer);

        KvBlockReservation reservation;
        try
        {
            if (KvWireMessage.DigestOf(hashes) != offer.Digest)
            {
                throw new InvalidDataException("The offer's block hashes do not match its digest.");
            }

            if (offer.ElementType != layout.ElementType)
            {
                throw new InvalidDataException($"The offer's KV elements are {offer.ElementType}; this pool stores {layout.ElementType}.");
            }

            reservation = _engine.ReserveForImportAsync(offer.HashVersion, offer.BlockSize, offer.Layers, offer.KvHeads, offer.HeadDim,
                tokens, hashes, salt, _backend.Stream.Synchronize, ct).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is InvalidDataException or EngineRequestException)
        {
            var incompatible = e is InvalidDataException;
            PutMessage(offer with { Kind = KvWireKind.Answer, Status = incompatible ? KvWireStatus.Incompatible : KvWireStatus.Failed, BlockCount = 0 });
            _comm.Group([(_control.Pointer + Out, KvWireMessage.Size)], [], _peer, _stream, deadline, ct);
            _comm.WaitStream(_stream, "ncclSend (answer)", deadline, ct);
            throw new KvTransferException(incompatible ? KvTransferError.Incompatible : KvTransferError.Failed, "Refused the offered KV prefix: " + e.Message, e);
        }

        try
        {
            var count = reservation.Fresh.Length;
            PutMessage(offer with { Kind = KvWireKind.Answer, FirstBlock = reservation.Present, BlockCount = count });
            _comm.Group([(_control.Pointer + Out, KvWireMessage.Size)], [], _peer, _stream, deadline, ct);
            var dataStarted = Stopwatch.GetTimestamp();
            if (count > 0)
            {
                var layerBytes = layout.BlockBytes / layout.NumLayers;
                var slice = count * layerBytes;
                var perRound = LayersPerRound(count, layerBytes, layout.NumLayers);
                PutIds(reservation.Fresh);
                EnsureStaging(perRound * slice);
                var receives = new (ulong, long)[perRound];
                for (var l0 = 0; l0 < layout.NumLayers; l0 += perRound)
                {
                    var k = Math.Min(perRound, layout.NumLayers - l0);
                    for (var i = 0; i < k; i++)
                    {
                        receives[i] = (_staging!.Pointer + (ulong)(i * slice), slice);
                    }

                    _comm.Group([], receives.AsSpan(0, k), _peer, _stream, deadline, ct);
                    _mover.Scatter(_backend.Pool.Pointer, _staging!.Pointer, _ids!.Pointer, count, l0, k, layout.BlockBytes, layerBytes, _stream);
                    if (_options.RoundReceived is { } progress)
                    {
                        _comm.WaitStream(_stream, "ncclRecv (KV layers)", deadline, ct);
                        progress(l0 + k);
                    }
                }
            }

            _comm.WaitStream(_stream, "ncclRecv (KV layers)", deadline, ct);
            var dataElapsed = Stopwatch.GetElapsedTime(dataStarted);
            var cached = _engine.CommitImportAsync(reservation).GetAwaiter().GetResult();
            PutMessage(offer with { Kind = KvWireKind.Done, FirstBlock = reservation.Present, BlockCount = count, TokenCount = cached });
            _comm.Group([(_control.Pointer + Out, KvWireMessage.Size)], [], _peer, _stream, deadline, ct);
            _comm.WaitStream(_stream, "ncclSend (done)", deadline, ct);
            return new KvTransferResult(count, reservation.Present, cached, count * layout.BlockBytes, Stopwatch.GetElapsedTime(started), dataElapsed);
        }
        catch (Exception e)
        {
            if (e is not KvTransferException { Error: KvTransferError.Incompatible })
            {
                // Stop NCCL before handing blocks back: nothing may still be writing into them.
                Fault(Classify(e).Error, e.Message);
            }

            if (!_stuck)
            {
                ReleaseQuietly(_engine.AbandonImportAsync(reservation)).GetAwaiter().GetResult();
            }

            throw;
        }
    }

    /// <summary>Receives a control message of <paramref name="kind"/> (waiting for it with the deadline).</summary>
    private KvWireMessage Expect(KvWireKind kind, long deadline, CancellationToken ct)
    {
        _comm.Group([], [(_control.Pointer + In, KvWireMessage.Size)], _peer, _stream, deadline, ct);
        _context.CopyToHost(_hostControl.AsSpan<byte>().Slice(In, KvWireMessage.Size), _control.Pointer + In, _stream);
        _comm.WaitStream(_stream, $"ncclRecv ({kind})", deadline, ct);
        try
        {
            return KvWireMessage.Read(_hostControl.AsSpan<byte>().Slice(In, KvWireMessage.Size), kind);
        }
        catch (InvalidDataException e)
        {
            throw Fault(KvTransferError.Incompatible, e.Message);
        }
    }

    /// <summary>Stages <paramref name="message"/> in the outgoing control slot (the stream was idle or ordered before).</summary>
    private void PutMessage(in KvWireMessage message)
    {
        var host = _hostControl.AsSpan<byte>().Slice(Out, KvWireMessage.Size);
        message.Write(host);
        _context.CopyToDevice(_control.Pointer + Out, (ReadOnlySpan<byte>)host, _stream);
    }

    private long WriteMetadata(int[] tokens, ulong[] hashes, byte[]? salt)
    {
        long bytes = (4L * tokens.Length) + (8L * hashes.Length) + (salt?.Length ?? 0);
        EnsureMeta(bytes);
        var host = _hostMeta!.AsSpan<byte>();
        MemoryMarshal.AsBytes(tokens.AsSpan()).CopyTo(host);
        MemoryMarshal.AsBytes(hashes.AsSpan()).CopyTo(host[(4 * tokens.Length)..]);
        salt?.CopyTo(host[((4 * tokens.Length) + (8 * hashes.Length))..]);
        _context.CopyToDevice(_meta!.Pointer, (ReadOnlySpan<byte>)host[..(int)bytes], _stream);
        return bytes;
    }

    private (int[] Tokens, ulong[] Hashes, string? Salt) ReadMetadata(in KvWireMessage offer)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The KV wire format is little-endian.");
        }

        var host = _hostMeta!.AsSpan<byte>();
        var tokens = MemoryMarshal.Cast<byte, int>(host[..(4 * offer.TokenCount)]).ToArray();
        var hashes = MemoryMarshal.Cast<byte, ulong>(host.Slice(4 * offer.TokenCount, 8 * offer.BlockCount)).ToArray();
        var salt = offer.SaltBytes < 0 ? null : Encoding.UTF8.GetString(host.Slice((4 * offer.TokenCount) + (8 * offer.BlockCount), offer.SaltBytes));
        return (tokens, hashes, salt);
    }

    private void PutIds(ReadOnlySpan<int> blocks)
    {
        if (_ids is null || _ids.Bytes < 4L * blocks.Length)
        {
            _ids?.Dispose();
            _ids = _context.Allocate(Math.Max(4L * blocks.Length, 4096));
        }

        // Pageable source: the driver copies it before returning, so the span may go away afterwards.
        _context.CopyToDevice(_ids.Pointer, blocks, _stream);
    }

    private void EnsureStaging(long bytes)
    {
        if (_staging is null || _staging.Bytes < bytes)
        {
            _staging?.Dispose();
            _staging = _context.Allocate(bytes);
        }
    }

    private void EnsureMeta(long bytes)
    {
        bytes = Math.Max(bytes, 4096);
        if (_meta is null || _meta.Bytes < bytes)
        {
            _meta?.Dispose();
            _hostMeta?.Dispose();
            _meta = _context.Allocate(bytes);
            _hostMeta = _context.AllocatePinned(bytes);
        }
    }

    /// <summary>Layers per round so that a round's staging stays within <see cref="KvTransportOptions.StagingMiB"/> (at least one).</summary>
    private int LayersPerRound(int blocks, long layerBytes, int layers)
    {
        if (blocks == 0)
        {
            return layers;
        }

        var cap = (long)_options.StagingMiB << 20;
        return (int)Math.Clamp(cap / (blocks * layerBytes), 1, layers);
    }

    private long Deadline() => Environment.TickCount64 + (long)_options.Timeout.TotalMilliseconds;

    private async Task EnterAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_fault is { } why)
        {
            _gate.Release();
            throw new KvTransferException(KvTransferError.LinkFaulted, "The NCCL KV link is faulted: " + why);
        }
    }

    /// <summary>Runs a protocol step, turning NCCL/CUDA failures into typed ones (faulting the link where NCCL may be mid-call).</summary>
    private T Guard<T>(Func<T> step)
    {
        try
        {
            return step();
        }
        catch (KvTransferException)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            Fault(KvTransferError.Failed, "A transfer was cancelled midway.");
            throw;
        }
        catch (Exception e) when (e is TimeoutException or CudaException or InvalidDataException)
        {
            var (error, message) = Classify(e);
            throw Fault(error, message, e);
        }
    }

    private static (KvTransferError Error, string Message) Classify(Exception e) => e switch
    {
        KvTransferException k => (k.Error, k.Message),
        TimeoutException => (KvTransferError.Timeout, "The peer did not complete the KV transfer in time (it may be dead): " + e.Message),
        CudaException { Code: NcclApi.RemoteError or 2 } c when c.Call.StartsWith("nccl", StringComparison.Ordinal) =>
            (KvTransferError.PeerFailed, "NCCL reports the peer failed or went away: " + e.Message),
        OperationCanceledException => (KvTransferError.Failed, "A transfer was cancelled midway."),
        _ => (KvTransferError.Failed, "The KV transfer failed: " + e.Message),
    };

    /// <summary>Marks the link unusable, aborts the communicator (its kernels stop) and drains the stream.</summary>
    private KvTransferException Fault(KvTransferError error, string message, Exception? inner = null)
    {
        if (_fault is null)
        {
            _fault = message;
            _comm.Dispose();
            _stuck = !Drain();
        }

        return new KvTransferException(error, message, inner);
    }

    /// <summary>Waits (bounded) for this link's stream to go idle; false when it did not.</summary>
    private bool Drain()
    {
        var until = Environment.TickCount64 + (long)DrainTimeout.TotalMilliseconds;
        try
        {
            _context.MakeCurrent();
            while (true)
            {
                unsafe
                {
                    var r = _context.Api.cuStreamQuery(_stream.Value);
                    if (r != 600)
                    {
                        return r == 0;
                    }
                }

                if (Environment.TickCount64 > until)
                {
                    return false;
                }

                Thread.Sleep(1);
            }
        }
        catch (CudaException)
        {
            return false;
        }
    }

    private static async Task ReleaseQuietly(Task release)
    {
        try
        {
            await release.ConfigureAwait(false);
        }
        catch (EngineRequestException)
        {
            // The engine stopped: its pool went with it.
        }
    }

    private static Task<T> OnThread<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
