namespace OrleansInference.Native.Interop;

/// <summary>
/// An NCCL communicator (<c>ncclCommInitRank</c>) bound to one context and stream. Point-to-point transfers are
/// grouped (<c>ncclGroupStart/End</c>) so a send and a receive to the same peer cannot deadlock.
/// </summary>
internal sealed unsafe class NcclCommunicator : CudaChildHandle
{
    private NcclCommunicator(CudaContext context, NcclApi api, nint comm, int rank, int ranks)
        : base(context, comm)
    {
        Api = api;
        Rank = rank;
        Ranks = ranks;
    }

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

    protected override bool Free(nint value) => Api.ncclCommDestroy(value) == 0;
}
