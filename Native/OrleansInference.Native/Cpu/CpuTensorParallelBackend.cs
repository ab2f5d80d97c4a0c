using OrleansInference.Native.Backends;
using OrleansInference.Native.Models;
using OrleansInference.Native.TensorParallel;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// Tensor parallelism on the CPU: one <see cref="CpuBackend"/> per rank over its <see cref="TensorParallelPlan"/>
/// slice of the weights, each on its own thread, the row-parallel products' partial sums added by a
/// <see cref="HostAllReduce"/>. It computes what the unsplit <see cref="CpuBackend"/> computes (up to float32
/// summation order), so it checks the shard planner and the reduction points without a GPU; it is also selectable
/// in the engine (<c>Device = cpu</c>, <c>TensorParallel = N</c>).
/// </summary>
/// <remarks>
/// Each rank's KV pool holds its KV heads; <see cref="ReadBlock"/> / <see cref="WriteBlock"/> use the unsplit layout
/// (<see cref="Layout"/>), the same bytes as a single <see cref="CpuBackend"/>'s. After a failed step the ranks may
/// be out of step, so the backend refuses further work.
/// </remarks>
public sealed class CpuTensorParallelBackend : IComputeBackend
{
    private readonly CpuBackend[] _ranks;
    private readonly LoadedModel[] _shards;
    private readonly HostAllReduce _reduce;
    private readonly RankWorkers _workers;
    private readonly KvLayout _partLayout;
    private readonly byte[] _partBytes;
    private bool _faulted;
    private bool _disposed;

    /// <summary>Splits <paramref name="model"/> over <paramref name="ranks"/> CPU ranks (throws <see cref="NotSupportedException"/> when its heads or MLP width do not divide).</summary>
    /// <param name="model">The model.</param>
    /// <param name="ranks">Ranks (threads of ranks).</param>
    /// <param name="numBlocks">KV blocks (the same block ids on every rank).</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="threadsPerRank">Worker threads of each rank's backend.</param>
    /// <param name="maxBatchTokens">Tokens per step the scratch buffers are sized for.</param>
    public CpuTensorParallelBackend(LoadedModel model, int ranks, int numBlocks, int blockSize, int threadsPerRank = 1, int maxBatchTokens = 512)
    {
        ArgumentNullException.ThrowIfNull(model);
        Plan = TensorParallelPlan.Create(model.Config, ranks);
        Layout = new KvLayout(numBlocks, blockSize, model.Config.NumLayers, model.Config.NumKvHeads, model.Config.HeadDim, DType.F32);
        _partLayout = KvShardInterleave.PartLayout(Layout, ranks);
        _partBytes = new byte[_partLayout.BlockBytes];
        _reduce = new HostAllReduce(ranks);
        _shards = new LoadedModel[ranks];
        _ranks = new CpuBackend[ranks];
        for (int r = 0; r < ranks; r++)
        {
            _shards[r] = Plan.ShardModel(model, r);
            _ranks[r] = new CpuBackend(_shards[r], numBlocks, blockSize, threadsPerRank, maxBatchTokens)
            {
                TensorParallel = new CpuTensorParallelRank(_reduce, r),
            };
        }

        _workers = new RankWorkers(ranks, "cpu-tp");
        Name = $"cpu-tp{ranks}";
    }

    /// <summary>How the model is split.</summary>
    public TensorParallelPlan Plan { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public ModelConfig Model => Plan.Full;

    /// <inheritdoc />
    public KvLayout Layout { get; }

    /// <inheritdoc />
    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits)
    {
        CheckUsable();
        ArgumentNullException.ThrowIfNull(chunks);

        // Only rank 0 writes logits: its buffer is checked here, so a short one stops every rank, not rank 0 alone.
        long rows = chunks.Sum(c => c.Logits switch { LogitsMode.Last => 1L, LogitsMode.All => c.Tokens?.Length ?? 0, _ => 0 });
        if (logits.Length < rows * Model.VocabSize)
        {
            throw new ArgumentException($"The step wants {rows} logits rows of {Model.VocabSize}; the buffer holds {logits.Length} floats.", nameof(logits));
        }

        var token = _workers.Begin((rank, step) =>
        {
            _ranks[rank].TensorParallel!.Step = step;
            _ranks[rank].Forward(chunks, default);
        });
        Exception? error = null;
        try
        {
            _ranks[0].TensorParallel!.Step = token;
            _ranks[0].Forward(chunks, logits);
        }
        catch (Exception e)
        {
            error = e;
        }

        Finish(error);
    }

    /// <inheritdoc />
    public void CopyBlock(int source, int destination)
    {
        CheckUsable();
        foreach (var rank in _ranks)
        {
            rank.CopyBlock(source, destination);
        }
    }

    /// <inheritdoc />
    public void ReadBlock(int block, Span<byte> destination)
    {
        CheckUsable();
        CheckBlockBytes(destination.Length, nameof(destination));
        for (int r = 0; r < _ranks.Length; r++)
        {
            _ranks[r].ReadBlock(block, _partBytes);
            KvShardInterleave.Gather(Layout, _ranks.Length, r, _partBytes, destination);
        }
    }

    /// <inheritdoc />
    public void WriteBlock(int block, ReadOnlySpan<byte> source)
    {
        CheckUsable();
        CheckBlockBytes(source.Length, nameof(source));
        for (int r = 0; r < _ranks.Length; r++)
        {
            KvShardInterleave.Scatter(Layout, _ranks.Length, r, source, _partBytes);
            _ranks[r].WriteBlock(block, _partBytes);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _workers.Dispose();
        foreach (var rank in _ranks)
        {
            rank.Dispose();
        }

        _reduce.Dispose();
    }

    private void Finish(Exception? rank0Error)
    {
        try
        {
            _workers.Finish(rank0Error);
        }
        catch (ArgumentException)
        {
            // Bad input is refused by every rank before any of them computes: they are still in step.
            throw;
        }
        catch
        {
            _faulted = true;
            throw;
        }
    }

    private void CheckUsable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faulted)
        {
            throw new InvalidOperationException($"{Name}: an earlier step failed part-way, so its ranks may be out of step; create a new backend.");
        }
    }

    private void CheckBlockBytes(int length, string name)
    {
        if (length != Layout.BlockBytes)
        {
            throw new ArgumentException($"A block is {Layout.BlockBytes} bytes; the buffer has {length}.", name);
        }
    }
}
