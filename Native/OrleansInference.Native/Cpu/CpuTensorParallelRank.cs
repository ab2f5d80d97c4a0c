using OrleansInference.Native.TensorParallel;

namespace OrleansInference.Native.Cpu;

/// <summary>A <see cref="CpuBackend"/>'s place in a tensor-parallel group: its rank and the group's all-reduce.</summary>
internal sealed unsafe class CpuTensorParallelRank(HostAllReduce reduce, int rank)
{
    public int Rank => rank;

    /// <summary>Only rank 0 turns the (replicated) residual stream into logits.</summary>
    public bool ComputesHead => rank == 0;

    /// <summary>The running step's token (a failed rank cancels it so the others leave the rendezvous).</summary>
    public CancellationToken Step { get; set; }

    /// <summary>Sums a row-parallel product's partial outputs over the ranks, in place.</summary>
    public void Sum(float* data, int count) => reduce.Sum(rank, data, count, Step);
}
