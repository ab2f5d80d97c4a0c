using OrleansInference.Native.Backends;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;
using OrleansInference.Native.TensorParallel;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// One model over several GPUs of this process (tensor parallelism), behind the same <see cref="IComputeBackend"/>
/// as one GPU. Each GPU runs a <see cref="CudaBackend"/> over its <see cref="TensorParallelPlan"/> slice (its query
/// heads, the KV heads of their groups, its MLP columns; embedding and LM head replicated), driven by its own host
/// thread on its own stream; after each layer's o and down products NCCL sums the residual stream over the GPUs
/// (fp32, in place). Rank 0 computes the logits or the device argmax. Decode steps replay per-GPU CUDA graphs that
/// include the all-reduces.
/// </summary>
/// <remarks>
/// The KV pool is split by KV head with the same block ids on every GPU; <see cref="ReadBlock"/> and
/// <see cref="WriteBlock"/> use the unsplit layout (<see cref="Layout"/>: all KV heads, bf16), byte for byte what a
/// one-GPU <see cref="CudaBackend"/> reads and writes. Bad input is refused before any GPU starts; a step that fails
/// part-way (a CUDA error on one GPU) leaves the group unusable.
/// </remarks>
public sealed class CudaTensorParallelBackend : IComputeBackend
{
    // Residual-stream all-reduces of these many tokens are run once at start, so NCCL sets up the connections of
    // every algorithm it will pick before any of them is captured into a graph.
    private static readonly int[] WarmUpTokens = [1, 4, 16, 64, 256, 1024];

    private readonly CudaBackend[] _ranks;
    private readonly NcclCommunicator[] _comms;
    private readonly RankWorkers _workers;
    private readonly byte[] _partBytes;
    private bool _faulted;
    private bool _disposed;

    /// <summary>
    /// Splits <paramref name="model"/> over the GPUs <paramref name="deviceOrdinals"/> (rank i on the i-th). Throws
    /// <see cref="NotSupportedException"/> when the model's heads, KV heads or MLP width do not divide by the GPU count
    /// (or a slice is a shape the kernels do not handle), <see cref="CudaUnavailableException"/> without a driver,
    /// enough GPUs or NCCL, <see cref="ArgumentException"/> for a repeated or negative ordinal.
    /// </summary>
    public CudaTensorParallelBackend(LoadedModel model, IReadOnlyList<int> deviceOrdinals, int numBlocks, int blockSize, CudaBackendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(deviceOrdinals);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        options ??= new CudaBackendOptions();
        CheckOrdinals(deviceOrdinals);
        int n = deviceOrdinals.Count;
        Plan = TensorParallelPlan.Create(model.Config, n);
        int present = CudaDriverApi.Load().DeviceCount();
        if (deviceOrdinals.Max() >= present)
        {
            throw new CudaUnavailableException(
                $"Tensor parallelism over GPUs {string.Join(",", deviceOrdinals)} needs {deviceOrdinals.Max() + 1} GPUs; {present} present.");
        }

        NcclApi nccl;
        try
        {
            nccl = NcclApi.Load();
        }
        catch (CudaUnavailableException e)
        {
            throw new CudaUnavailableException($"Tensor parallelism needs NCCL (libnccl.so.2): {e.Message}");
        }

        Layout = new KvLayout(numBlocks, blockSize, model.Config.NumLayers, model.Config.NumKvHeads, model.Config.HeadDim, DType.BF16);
        _partBytes = new byte[KvShardInterleave.PartLayout(Layout, n).BlockBytes];
        _ranks = new CudaBackend[n];
        _comms = new NcclCommunicator[n];
        _workers = new RankWorkers(n, "cuda-tp");
        try
        {
            for (int r = 0; r < n; r++)
            {
                _ranks[r] = new CudaBackend(Plan.ShardModel(model, r), deviceOrdinals[r], numBlocks, blockSize, options);
            }

            CreateCommunicators(nccl);
            for (int r = 0; r < n; r++)
            {
                _ranks[r].JoinTensorParallel(r, _comms[r]);
            }

            WarmUp(options.MaxBatchTokens);
        }
        catch
        {
            Dispose();
            throw;
        }

        Name = "cuda:" + string.Join(",", deviceOrdinals);
        DeviceName = string.Join(" + ", _ranks.Select(b => b.DeviceName));
    }

    /// <summary>How the model is split.</summary>
    public TensorParallelPlan Plan { get; }

    /// <summary>GPUs (ranks).</summary>
    public int Ranks => _ranks.Length;

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The GPUs' names.</summary>
    public string DeviceName { get; }

    /// <inheritdoc />
    public ModelConfig Model => Plan.Full;

    /// <inheritdoc />
    public KvLayout Layout { get; }

    /// <summary>Bytes of weights over all GPUs (replicated ones counted on each).</summary>
    public long WeightBytes => _ranks.Sum(b => b.WeightBytes);

    /// <summary>Decode graphs captured on rank 0.</summary>
    public int CapturedGraphs => _ranks[0].CapturedGraphs;

    /// <summary>The ranks' backends (benchmarks and tests).</summary>
    internal IReadOnlyList<CudaBackend> RankBackends => _ranks;

    /// <summary>
    /// As <see cref="CudaTensorParallelBackend(LoadedModel, IReadOnlyList{int}, int, int, CudaBackendOptions?)"/>, or
    /// null with the reason when the GPUs, NCCL or the model's shape do not allow it.
    /// </summary>
    public static CudaTensorParallelBackend? TryCreate(LoadedModel model, IReadOnlyList<int> deviceOrdinals, int numBlocks, int blockSize, CudaBackendOptions? options, out string? whyNot)
    {
        try
        {
            var backend = new CudaTensorParallelBackend(model, deviceOrdinals, numBlocks, blockSize, options);
            whyNot = null;
            return backend;
        }
        catch (Exception e) when (e is CudaException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException or ModelLoadException)
        {
            whyNot = e.Message;
            return null;
        }
    }

    /// <inheritdoc />
    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits)
    {
        CheckUsable();
        long rows = LogitsRows(chunks);
        if (logits.Length < rows * Model.VocabSize)
        {
            throw new ArgumentException($"The step wants {rows} logits rows of {Model.VocabSize}; the buffer holds {logits.Length} floats.", nameof(logits));
        }

        _workers.Begin((rank, _) => _ranks[rank].ForwardLayers(chunks));
        Exception? error = null;
        try
        {
            _ranks[0].Forward(chunks, logits);
        }
        catch (Exception e)
        {
            error = e;
        }

        Finish(error);
    }

    /// <summary>As <see cref="CudaBackend.ForwardGreedy"/>: each logits row's argmax, computed on rank 0.</summary>
    public void ForwardGreedy(IReadOnlyList<SequenceChunk> chunks, Span<int> tokenIds)
    {
        CheckUsable();
        long rows = LogitsRows(chunks);
        if (tokenIds.Length < rows)
        {
            throw new ArgumentException($"The step has {rows} logits rows; the id buffer holds {tokenIds.Length}.", nameof(tokenIds));
        }

        _workers.Begin((rank, _) => _ranks[rank].ForwardLayers(chunks));
        Exception? error = null;
        try
        {
            _ranks[0].ForwardGreedy(chunks, tokenIds);
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
        _workers?.Dispose();

        // Graphs that hold NCCL work go with their backends, before the communicators.
        foreach (var rank in _ranks ?? [])
        {
            rank?.Dispose();
        }

        foreach (var comm in _comms ?? [])
        {
            comm?.Dispose();
        }
    }

    /// <summary>Fills every rank's KV pool with pseudo-random values (benchmarks: never time zeros).</summary>
    internal void FillPoolRandom(ulong seed, float scale)
    {
        for (int r = 0; r < _ranks.Length; r++)
        {
            _ranks[r].FillPoolRandom(seed + (ulong)r, scale);
        }
    }

    private static void CheckOrdinals(IReadOnlyList<int> ordinals)
    {
        if (ordinals.Count == 0)
        {
            throw new ArgumentException("Tensor parallelism needs at least one GPU.", nameof(ordinals));
        }

        if (ordinals.Any(o => o < 0))
        {
            throw new ArgumentException($"GPU ordinals must not be negative: {string.Join(",", ordinals)}.", nameof(ordinals));
        }

        if (ordinals.Distinct().Count() != ordinals.Count)
        {
            throw new ArgumentException($"Each GPU can hold one rank (NCCL refuses two ranks on one GPU): {string.Join(",", ordinals)}.", nameof(ordinals));
        }
    }

    private static long LogitsRows(IReadOnlyList<SequenceChunk> chunks)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        long rows = 0;
        foreach (var c in chunks)
        {
            rows += c.Logits switch
            {
                LogitsMode.Last => 1,
                LogitsMode.All => c.Tokens?.Length ?? 0,
                _ => 0,
            };
        }

        return rows;
    }

    /// <summary>One communicator per GPU, created together (one thread initialising several ranks must group the calls).</summary>
    private unsafe void CreateCommunicators(NcclApi nccl)
    {
        var id = NcclCommunicator.NewUniqueId(nccl);
        nccl.Check(nccl.ncclGroupStart(), "ncclGroupStart");
        Exception? error = null;
        for (int r = 0; r < _ranks.Length && error is null; r++)
        {
            try
            {
                _comms[r] = NcclCommunicator.Create(_ranks[r].Context, nccl, id, r, _ranks.Length);
            }
            catch (CudaException e)
            {
                error = e;
            }
        }

        int end = nccl.ncclGroupEnd();
        if (error is not null)
        {
            throw error;
        }

        nccl.Check(end, "ncclGroupEnd (ncclCommInitRank)");
    }

    private void WarmUp(int maxBatchTokens)
    {
        _workers.Run((r, _) =>
        {
            var backend = _ranks[r];
            long floats = (long)Math.Max(maxBatchTokens, WarmUpTokens[^1]) * Model.HiddenSize;
            using var buffer = backend.Context.Allocate(floats * 4);
            backend.Context.Memset(buffer.Pointer, 0, buffer.Bytes, backend.Stream);
            foreach (int tokens in WarmUpTokens.Append(maxBatchTokens))
            {
                _comms[r].AllReduceSum(buffer.Pointer, buffer.Pointer, (long)tokens * Model.HiddenSize, backend.Stream);
            }

            backend.Stream.Synchronize();
        });
    }

    private void Finish(Exception? rank0Error)
    {
        try
        {
            _workers.Finish(rank0Error);
        }
        catch (ArgumentException)
        {
            // Bad input is refused by every rank before any of them launches work: they are still in step.
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
            throw new InvalidOperationException($"{Name}: an earlier step failed part-way, so its GPUs may be out of step; create a new backend.");
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
