using OrleansInference.Native.Backends;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

// A CudaBackend as one rank of CudaTensorParallelBackend: it computes the rank's slice of
// the model, and after the o and down products the residual stream is summed over ranks by NCCL. Rank 0 adds its
// partial product to the residual (cuBLASLt epilogue, as on one GPU); the other ranks write theirs over it, so the
// in-place all-reduce of the residual leaves x + Σ partials on every rank. Only rank 0 computes the LM head.
public sealed partial class CudaBackend
{
    private int _tensorParallelRank = -1;
    private NcclCommunicator? _tensorParallelComm;

    /// <summary>Whether the o and down products add to the residual stream (one GPU, or rank 0) or replace it.</summary>
    private bool AccumulatesResidual => _tensorParallelRank <= 0;

    /// <summary>Whether this backend turns the residual stream into logits (one GPU, or rank 0).</summary>
    private bool ComputesHead => _tensorParallelRank <= 0;

    /// <summary>Makes this backend rank <paramref name="rank"/> of the group of <paramref name="comm"/> (captured graphs are dropped).</summary>
    internal void JoinTensorParallel(int rank, NcclCommunicator comm)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ObjectDisposedException.ThrowIf(_disposed, this);
        _context.MakeCurrent();
        DropGraphs();
        _tensorParallelRank = rank;
        _tensorParallelComm = comm;
    }

    /// <summary>A rank's part of a step: every layer, no LM head (ranks past the first).</summary>
    internal void ForwardLayers(IReadOnlyList<SequenceChunk> chunks) => Run(chunks, default, default, wantIds: false);

    private void SumResidualOverRanks(int tokens)
    {
        if (_tensorParallelComm is null)
        {
            return;
        }

        _tensorParallelComm.AllReduceSum(_act.X.Pointer, _act.X.Pointer, (long)tokens * _config.HiddenSize, _stream);
        Mark("all_reduce");
    }
}
