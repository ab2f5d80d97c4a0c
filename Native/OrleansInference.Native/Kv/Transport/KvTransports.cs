using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Kv.Transport;

/// <summary>Makes <see cref="IKvTransport"/> links between engines.</summary>
public static class KvTransports
{
    /// <summary>
    /// Two connected ends of an in-process host-copy link (the OIKV payload of <see cref="IInferenceEngine.ExportKvAsync"/>
    /// handed to <see cref="IInferenceEngine.ImportKvAsync"/>): for engines in one process, any device, and for tests.
    /// </summary>
    public static (IKvTransport First, IKvTransport Second) CreateHostPair(IInferenceEngine first, IInferenceEngine second, KvTransportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        options ??= new KvTransportOptions();
        options.Validate();
        return HostKvTransport.CreatePair(first, second, options);
    }

    /// <summary>
    /// A new 128-byte NCCL unique id for one link. The process that calls this hosts the link's rendezvous and must
    /// join as rank 0; the control plane carries the bytes to the peer, which joins as rank 1. Throws
    /// <see cref="CudaUnavailableException"/> when NCCL is not installed.
    /// </summary>
    public static byte[] CreateNcclId() => NcclCommunicator.NewUniqueId(NcclApi.Load()).ToArray();

    /// <summary>
    /// Joins the NCCL link <paramref name="ncclId"/> as <paramref name="rank"/> (0 or 1) with an engine on a CUDA
    /// backend; completes when both ends have joined (<see cref="KvTransferException"/> with
    /// <see cref="KvTransferError.Timeout"/> after <see cref="KvTransportOptions.ConnectTimeout"/>). The two engines must
    /// be on different GPUs (NCCL refuses two ranks on one GPU).
    /// </summary>
    public static async Task<IKvTransport> ConnectNcclAsync(IInferenceEngine engine, ReadOnlyMemory<byte> ncclId, int rank, KvTransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rank, 1);
        options ??= new KvTransportOptions();
        options.Validate();
        if (engine is not InferenceEngine { Backend: CudaBackend backend } local)
        {
            throw new NotSupportedException($"The NCCL KV transport needs an InferenceEngine on a CUDA backend; this engine runs on '{engine.Info.Device}'.");
        }

        var id = NcclUniqueId.FromBytes(ncclId.Span);
        return await NcclKvTransport.ConnectAsync(local, backend, id, rank, options, cancellationToken).ConfigureAwait(false);
    }
}
