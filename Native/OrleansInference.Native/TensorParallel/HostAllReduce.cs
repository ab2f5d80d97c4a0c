namespace OrleansInference.Native.TensorParallel;

/// <summary>
/// In-place sum of one float buffer per rank, across ranks running on threads of one process (the CPU counterpart of
/// NCCL's all-reduce). Every rank owns a contiguous segment of the elements: it adds that segment over all ranks'
/// buffers (in rank order, so the result does not depend on timing) and writes the sum into each buffer. Two barriers
/// bracket the pass: all buffers posted, all segments written.
/// </summary>
internal sealed unsafe class HostAllReduce : IDisposable
{
    private readonly Barrier _barrier;
    private readonly float*[] _buffers;
    private readonly int[] _counts;

    public HostAllReduce(int ranks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ranks);
        Ranks = ranks;
        _barrier = new Barrier(ranks);
        _buffers = new float*[ranks];
        _counts = new int[ranks];
    }

    public int Ranks { get; }

    /// <summary>Called by every rank with its buffer of <paramref name="count"/> floats; returns with each holding the sum.</summary>
    public void Sum(int rank, float* data, int count, CancellationToken cancellation)
    {
        if (Ranks == 1)
        {
            return;
        }

        _buffers[rank] = data;
        _counts[rank] = count;
        _barrier.SignalAndWait(cancellation);
        for (int r = 0; r < Ranks; r++)
        {
            if (_counts[r] != count)
            {
                throw new InvalidOperationException($"All-reduce: rank {rank} has {count} elements but rank {r} has {_counts[r]}.");
            }
        }

        int segment = (count + Ranks - 1) / Ranks;
        int lo = Math.Min(count, rank * segment), hi = Math.Min(count, lo + segment);
        for (int i = lo; i < hi; i++)
        {
            float s = 0;
            for (int r = 0; r < Ranks; r++)
            {
                s += _buffers[r][i];
            }

            for (int r = 0; r < Ranks; r++)
            {
                _buffers[r][i] = s;
            }
        }

        _barrier.SignalAndWait(cancellation);
    }

    public void Dispose() => _barrier.Dispose();
}
