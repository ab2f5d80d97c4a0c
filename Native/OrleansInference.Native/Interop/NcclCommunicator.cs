namespace OrleansInference.Native.Interop;

/// <summary>
/// An NCCL communicator (<c>ncclCommInitRank</c>) bound to one context and stream. Point-to-point transfers are
/// grouped (<c>ncclGroupStart/End</c>) so a send and a receive to the same peer cannot deadlock.
/// </summary>
/// <remarks>
/// A non-blocking communicator (<see cref="CreateNonBlocking"/>) never waits inside NCCL: every call returns at once
/// and <see cref="WaitReady"/> / <see cref="WaitStream"/> poll with a deadline, so a dead or silent peer ends in a
/// <see cref="TimeoutException"/> or a <see cref="CudaException"/> instead of a hang. Disposing it calls
/// <c>ncclCommAbort</c>, which stops its kernels and never waits for the peer.
/// </remarks>
internal sealed unsafe class NcclCommunicator : CudaChildHandle
{
    private const int CudaErrorNotReady = 600;

    private NcclCommunicator(CudaContext context, NcclApi api, nint comm, int rank, int ranks, bool nonBlocking = false)
        : base(context, comm)
    {
        Api = api;
        Rank = rank;
        Ranks = ranks;
        NonBlocking = nonBlocking;
    }

    /// <summary>Whether this communicator was created with <c>blocking = 0</c>.</summary>
    public bool NonBlocking { get; }

    public NcclApi Api { get; }

    public int Rank { get; }

    public int Ranks { get; }

    public static NcclUniqueId NewUniqueId(NcclApi api)
    {
        NcclUniqueId id;
        api.Check(api.ncclGetUniqueId(&id), "ncclGetUniqueId");
        return id;
    }

    /// <summary>Joins the communicator <paramref name="id"/> as <paramref name="rank"/> of <paramref name="ranks"/> (blocks until all join).</summary>
    public static NcclCommunicator Create(CudaContext context, NcclApi api, NcclUniqueId id, int rank, int ranks)
    {
        context.MakeCurrent();
        nint comm;
        api.Check(api.ncclCommInitRank(&comm, ranks, id, rank), "ncclCommInitRank");
        return new NcclCommunicator(context, api, comm, rank, ranks);
    }

    /// <summary>
    /// Starts joining <paramref name="id"/> as <paramref name="rank"/> of <paramref name="ranks"/> without blocking and
    /// waits, polling, until every rank has joined or <paramref name="deadline"/> (a <see cref="Environment.TickCount64"/>
    /// value) passes: then the half-made communicator is aborted and <see cref="TimeoutException"/> thrown.
    /// </summary>
    public static NcclCommunicator CreateNonBlocking(CudaContext context, NcclApi api, NcclUniqueId id, int rank, int ranks, long deadline, CancellationToken cancellationToken)
    {
        context.MakeCurrent();
        var config = NcclConfig.Create(blocking: false);
        nint comm = 0;
        int r = api.ncclCommInitRankConfig(&comm, ranks, id, rank, &config);
        if (r != 0 && r != NcclApi.InProgress)
        {
            if (comm != 0)
            {
                api.ncclCommAbort(comm);
            }

            api.Check(r, "ncclCommInitRankConfig");
        }

        var result = new NcclCommunicator(context, api, comm, rank, ranks, nonBlocking: true);
        try
        {
            result.WaitReady("ncclCommInitRankConfig", deadline, cancellationToken);
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The communicator's asynchronous state: 0, <see cref="NcclApi.InProgress"/>, or an NCCL error.</summary>
    public int AsyncError()
    {
        int state;
        Api.Check(Api.ncclCommGetAsyncError(DangerousGetHandle(), &state), "ncclCommGetAsyncError");
        return state;
    }

    /// <summary>Polls until the last call on a non-blocking communicator has finished its host-side work.</summary>
    public void WaitReady(string call, long deadline, CancellationToken cancellationToken)
    {
        var wait = new Backoff();
        while (true)
        {
            int state = AsyncError();
            if (state == 0)
            {
                return;
            }

            if (state != NcclApi.InProgress)
            {
                Api.Check(state, call);
            }

            Expire(call, deadline, cancellationToken);
            wait.Pause();
        }
    }

    /// <summary>
    /// Polls until <paramref name="stream"/>'s work (NCCL kernels included) is done, failing early when NCCL reports an
    /// asynchronous error (e.g. the peer died), at <paramref name="deadline"/> with <see cref="TimeoutException"/>,
    /// or on cancellation. The caller aborts the communicator (disposes it) on any failure.
    /// </summary>
    public void WaitStream(CudaStream stream, string call, long deadline, CancellationToken cancellationToken)
    {
        var api = Context.Api;
        var wait = new Backoff();
        Context.MakeCurrent();
        while (true)
        {
            int r = api.cuStreamQuery(stream.Value);
            if (r == 0)
            {
                return;
            }

            if (r != CudaErrorNotReady)
            {
                api.Check(r, "cuStreamQuery (" + call + ")");
            }

            int state = AsyncError();
            if (state != 0 && state != NcclApi.InProgress)
            {
                Api.Check(state, call);
            }

            Expire(call, deadline, cancellationToken);
            wait.Pause();
        }
    }

    /// <summary>Enqueues one grouped batch of sends (<paramref name="sends"/>) and receives to <paramref name="peer"/>.</summary>
    public void Group(ReadOnlySpan<(ulong Buffer, long Bytes)> sends, ReadOnlySpan<(ulong Buffer, long Bytes)> receives, int peer, CudaStream stream, long deadline, CancellationToken cancellationToken)
    {
        Context.MakeCurrent();
        nint comm = DangerousGetHandle();
        Api.Check(Api.ncclGroupStart(), "ncclGroupStart");
        int first = 0;
        string failed = "";
        foreach (var (buffer, bytes) in sends)
        {
            int r = Api.ncclSend(buffer, (nuint)bytes, NcclApi.Int8, peer, comm, stream.Value);
            if (r != 0 && r != NcclApi.InProgress && first == 0)
            {
                (first, failed) = (r, "ncclSend");
            }
        }

        foreach (var (buffer, bytes) in receives)
        {
            int r = Api.ncclRecv(buffer, (nuint)bytes, NcclApi.Int8, peer, comm, stream.Value);
            if (r != 0 && r != NcclApi.InProgress && first == 0)
            {
                (first, failed) = (r, "ncclRecv");
            }
        }

        int end = Api.ncclGroupEnd();
        Api.Check(first, failed);
        if (end == NcclApi.InProgress)
        {
            WaitReady("ncclGroupEnd", deadline, cancellationToken);
        }
        else
        {
            Api.Check(end, "ncclGroupEnd");
        }
    }

    private static void Expire(string call, long deadline, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Environment.TickCount64 >= deadline)
        {
            throw new TimeoutException($"{call} did not finish before its deadline.");
        }
    }

    /// <summary>Sends <paramref name="sendBytes"/> from <paramref name="send"/> to <paramref name="sendPeer"/> and receives <paramref name="receiveBytes"/> from <paramref name="receivePeer"/>, as one group.</summary>
    public void SendReceive(ulong send, long sendBytes, int sendPeer, ulong receive, long receiveBytes, int receivePeer, CudaStream stream)
    {
        Context.MakeCurrent();
        nint comm = DangerousGetHandle();
        Api.Check(Api.ncclGroupStart(), "ncclGroupStart");
        int sendResult = sendBytes > 0 ? Api.ncclSend(send, (nuint)sendBytes, NcclApi.Int8, sendPeer, comm, stream.Value) : 0;
        int receiveResult = receiveBytes > 0 ? Api.ncclRecv(receive, (nuint)receiveBytes, NcclApi.Int8, receivePeer, comm, stream.Value) : 0;
        int endResult = Api.ncclGroupEnd();
        Api.Check(sendResult, "ncclSend");
        Api.Check(receiveResult, "ncclRecv");
        Api.Check(endResult, "ncclGroupEnd");
    }

    /// <summary>In-place or out-of-place sum over all ranks of <paramref name="count"/> floats.</summary>
    public void AllReduceSum(ulong send, ulong receive, long count, CudaStream stream)
    {
        Context.MakeCurrent();
        Api.Check(Api.ncclAllReduce(send, receive, (nuint)count, NcclApi.Float32, NcclApi.Sum, DangerousGetHandle(), stream.Value), "ncclAllReduce");
    }

    // Abort rather than destroy a non-blocking communicator: destroy may wait for a peer that is gone.
    protected override bool Free(nint value) => (NonBlocking ? Api.ncclCommAbort(value) : Api.ncclCommDestroy(value)) == 0;

    /// <summary>Spins briefly, then yields, then sleeps 1 ms: quick answers for short waits, no burnt core for long ones.</summary>
    private struct Backoff
    {
        private int _count;

        public void Pause()
        {
            _count++;
            if (_count < 64)
            {
                Thread.SpinWait(32);
            }
            else if (_count < 512)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }
}
