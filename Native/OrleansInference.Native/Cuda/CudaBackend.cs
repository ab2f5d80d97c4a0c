using OrleansInference.Native.Backends;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// The forward pass on an NVIDIA GPU: bf16 weights (converted once at load), bf16 paged KV pool, fp32 residual
/// stream, cuBLASLt products with fused QKV and gate/up weights (the residual add rides in the O and down products'
/// epilogue), NVRTC-compiled kernels for embedding, RMSNorm, RoPE + KV write, paged decode attention (split-K),
/// paged prefill attention (tensor cores), SwiGLU and argmax. Steps made only of single-token chunks (decode) replay
/// a CUDA graph captured per batch-size bucket. Called from one thread at a time (the engine's).
/// </summary>
/// <remarks>
/// KV layout (<see cref="KvLayout.ElementType"/> = BF16): each block is one contiguous region
/// <c>[layer][K|V][slot][kvHead][headDim]</c>, which is also the byte order of <see cref="ReadBlock"/>. One extra
/// block past <see cref="KvLayout.NumBlocks"/> absorbs the writes of padding rows in graph replays.
/// </remarks>
public sealed unsafe partial class CudaBackend : IComputeBackend
{
    private const int MaxSplits = 16;
    private static readonly int[] Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    private readonly CudaContext _context;
    private readonly CudaStream _stream;
    private readonly GemmRunner _gemm;
    private readonly MatMul _matmul;
    private readonly CudaKernelSet _kernels;
    private readonly CudaModelWeights _weights;
    private readonly DeviceBuffer _pool;
    private readonly DeviceBuffer _invFreq;
    private readonly CudaBackendOptions _options;
    private readonly ModelConfig _config;
    private readonly int _qDim;
    private bool _fuseSmallBatches;
    private bool _normInPairs = true;
    private DecodeStages _omittedStages;
    private int _maxDecodeSplits = MaxSplits;
    private readonly int _kvDim;
    private readonly int _trashBlock;
    private readonly long _blockElements;
    private readonly long _layerElements;
    private readonly long _planeElements;
    private readonly float _scaleLog2;
    private readonly Dictionary<int, CudaGraphExec> _graphs = [];
    private ulong[] _argmaxKeys = [];
    private readonly List<(int Work, int Chunk, int Q0)> _tileOrder = [];
    private CudaStepInputs _inputs;
    private CudaActivations _act;
    private bool _disposed;
    private int _decodeAttentionVersion = 2;

    /// <summary>
    /// Opens device <paramref name="deviceOrdinal"/>, compiles the kernels, converts the weights and allocates the KV
    /// pool. Throws <see cref="CudaUnavailableException"/> without a driver or device, <see cref="NotSupportedException"/>
    /// for shapes the kernels do not handle, <see cref="CudaException"/> for other failures (e.g. out of memory).
    /// </summary>
    public CudaBackend(LoadedModel model, int deviceOrdinal, int numBlocks, int blockSize, CudaBackendOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        _options = options ?? new CudaBackendOptions();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxBatchTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_options.MaxSequences);
        _config = model.Config;
        CheckSupported(_config);
        var invFreq = RotaryFrequencies.Compute(_config);
        _qDim = _config.NumHeads * _config.HeadDim;
        _kvDim = _config.NumKvHeads * _config.HeadDim;
        Layout = new KvLayout(numBlocks, blockSize, _config.NumLayers, _config.NumKvHeads, _config.HeadDim, DType.BF16);
        _planeElements = (long)blockSize * _kvDim;
        _layerElements = 2 * _planeElements;
        _blockElements = _layerElements * _config.NumLayers;
        _trashBlock = numBlocks;
        _scaleLog2 = (float)(1.4426950408889634 / Math.Sqrt(_config.HeadDim));

        var cleanup = new List<IDisposable>();
        try
        {
            _context = CudaContext.Open(deviceOrdinal);
            cleanup.Add(_context);
            _context.ProgrammaticLaunch = _options.ProgrammaticLaunch && _context.ComputeMajor >= 9;
            _fuseSmallBatches = _options.FuseSmallBatches;
            _persistentDecode = _options.PersistentDecode;
            _stream = _context.CreateStream();
            cleanup.Add(_stream);
            var cacheDir = _options.KernelCacheDirectory is null ? KernelCompiler.DefaultCacheDirectory
                : _options.KernelCacheDirectory.Length == 0 ? null : _options.KernelCacheDirectory;
            _kernels = new CudaKernelSet(_context, new KernelCompiler(NvrtcApi.Load(), cacheDir), _config, blockSize);
            cleanup.Add(_kernels);
            _gemm = new GemmRunner(_context, CublasLtApi.Load());
            cleanup.Add(_gemm);
            _matmul = new MatMul(_context, _gemm, _kernels.Gemv, _options.TuneMatMul);
            cleanup.Add(_matmul);
            _weights = new CudaModelWeights(_context, _stream, _config, model.Tensors);
            cleanup.Add(_weights);
            _invFreq = _context.Allocate(invFreq.Length * 4L);
            cleanup.Add(_invFreq);
            _context.CopyToDevice(_invFreq.Pointer, (ReadOnlySpan<float>)invFreq, _stream);
            _pool = _context.Allocate((numBlocks + 1L) * _blockElements * 2);
            cleanup.Add(_pool);
            _context.Memset(_pool.Pointer, 0, _pool.Bytes, _stream);
            int maxPositions = (int)Math.Min(_config.MaxPositionEmbeddings, (long)numBlocks * blockSize);
            int tableWidth = (maxPositions + blockSize - 1) / blockSize;
            _inputs = new CudaStepInputs(_context, _options.MaxBatchTokens, _options.MaxSequences, tableWidth);
            cleanup.Add(_inputs);
            _act = NewActivations(_options.MaxBatchTokens);
            cleanup.Add(_act);
            _persistentTable = NewPersistentTable();
            cleanup.Add(_persistentTable);
            _stream.Synchronize();
        }
        catch
        {
            for (int i = cleanup.Count - 1; i >= 0; i--)
            {
                cleanup[i].Dispose();
            }

            throw;
        }

        DeviceName = _context.Name;
        Name = $"cuda:{deviceOrdinal}";
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The GPU's name, e.g. <c>NVIDIA H100 80GB HBM3</c>.</summary>
    public string DeviceName { get; }

    /// <inheritdoc />
    public ModelConfig Model => _config;

    /// <inheritdoc />
    public KvLayout Layout { get; }

    /// <summary>Bytes of weights on the device.</summary>
    public long WeightBytes => _weights.Bytes;

    /// <summary>Whether the kernels were loaded from the disk cache rather than compiled.</summary>
    public bool KernelsFromCache => _kernels.WasCached;

    /// <summary>Decode graphs captured so far (one per batch-size bucket used).</summary>
    public int CapturedGraphs => _graphs.Count;

    internal CudaContext Context => _context;

    internal CudaStream Stream => _stream;

    internal CudaKernelSet Kernels => _kernels;

    internal DeviceBuffer Pool => _pool;

    internal GemmRunner Gemm => _gemm;

    internal MatMul MatMul => _matmul;

    /// <summary>1: the plain prefill attention kernel; 2: the pipelined one (cp.async + ldmatrix); 3: pipelined with 32 query rows per warp (the default).</summary>
    internal int PrefillAttentionVersion { get; set; } = 3;

    /// <summary>1: the first decode attention kernel; 2: table staged in shared memory, 8 steps in flight.</summary>
    internal int DecodeAttentionVersion
    {
        get => _decodeAttentionVersion;
        set
        {
            _decodeAttentionVersion = value;
            DropGraphs();
        }
    }

    /// <summary>
    /// In fused decode steps, the QKV and gate/up GEMVs normalize the residual themselves (true) instead of the O and
    /// down GEMVs' last block writing the normalized input (captured graphs are dropped on change).
    /// </summary>
    internal bool NormInPairs
    {
        get => _normInPairs;
        set
        {
            _normInPairs = value;
            DropGraphs();
        }
    }

    /// <summary>Most context splits per decode sequence, 1 to 16 (captured graphs are dropped on change).</summary>
    internal int MaxDecodeSplits
    {
        get => _maxDecodeSplits;
        set
        {
            _maxDecodeSplits = Math.Clamp(value, 1, MaxSplits);
            DropGraphs();
        }
    }

    /// <summary>
    /// For the benchmark's timing ablation only: stages of the decode layer that are not run at batch 1 (kernels of the
    /// fused layer, phases of the persistent kernel, whose barriers stay), so the step's time without them shows their
    /// share of the replayed graph, overlap included. The step's results are then wrong (captured graphs are dropped
    /// on change).
    /// </summary>
    internal DecodeStages OmittedStages
    {
        get => _omittedStages;
        set
        {
            _omittedStages = value;
            DropGraphs();
        }
    }

    /// <summary>Folds the small kernels into the GEMVs at decode sizes (captured graphs are dropped on change).</summary>
    internal bool FuseSmallBatches
    {
        get => _fuseSmallBatches;
        set
        {
            _fuseSmallBatches = value;
            DropGraphs();
        }
    }

    /// <summary>Launches kernels with programmatic stream serialization (captured graphs are dropped on change).</summary>
    internal bool ProgrammaticLaunch
    {
        get => _context.ProgrammaticLaunch;
        set
        {
            _context.ProgrammaticLaunch = value;
            DropGraphs();
        }
    }

    /// <summary>When set, eager steps record an event after each stage and add up the times per stage (graphs are not used).</summary>
    internal StepProfiler? Profiler { get; set; }

    /// <summary>
    /// Creates the backend, or returns null with the reason (no driver, no device, unsupported shape, out of memory)
    /// so the caller can fall back to the CPU.
    /// </summary>
    public static CudaBackend? TryCreate(LoadedModel model, int deviceOrdinal, int numBlocks, int blockSize, out string? whyNot) =>
        TryCreate(model, deviceOrdinal, numBlocks, blockSize, new CudaBackendOptions(), out whyNot);

    /// <summary>As <see cref="TryCreate(LoadedModel, int, int, int, out string?)"/>, with options.</summary>
    public static CudaBackend? TryCreate(LoadedModel model, int deviceOrdinal, int numBlocks, int blockSize, CudaBackendOptions options, out string? whyNot)
    {
        try
        {
            var backend = new CudaBackend(model, deviceOrdinal, numBlocks, blockSize, options);
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
    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits) => Run(chunks, logits, default, wantIds: false);

    /// <summary>
    /// Runs a step like <see cref="Forward"/> but returns only each logits row's argmax (greedy decoding on the
    /// device: 4 bytes per row cross the bus instead of the vocabulary's logits).
    /// </summary>
    public void ForwardGreedy(IReadOnlyList<SequenceChunk> chunks, Span<int> tokenIds) => Run(chunks, default, tokenIds, wantIds: true);

    /// <inheritdoc />
    public void CopyBlock(int source, int destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckBlock(source, nameof(source));
        CheckBlock(destination, nameof(destination));
        if (source == destination)
        {
            return;
        }

        _context.MakeCurrent();
        long bytes = _blockElements * 2;
        _context.CopyDeviceToDevice(_pool.Pointer + (ulong)(destination * bytes), _pool.Pointer + (ulong)(source * bytes), bytes, _stream);
    }

    /// <inheritdoc />
    public void ReadBlock(int block, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckBlock(block, nameof(block));
        CheckBlockBytes(destination.Length, nameof(destination));
        _context.MakeCurrent();
        _context.CopyToHost(destination, _pool.Pointer + (ulong)(block * _blockElements * 2), _stream);
        _stream.Synchronize();
    }

    /// <inheritdoc />
    public void WriteBlock(int block, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckBlock(block, nameof(block));
        CheckBlockBytes(source.Length, nameof(source));
        _context.MakeCurrent();
        _context.CopyToDevice(_pool.Pointer + (ulong)(block * _blockElements * 2), source, _stream);
        _stream.Synchronize();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            _context.MakeCurrent();
            _stream.Synchronize();
        }
        catch (CudaException)
        {
            // A failed device still has its handles released below.
        }

        foreach (var g in _graphs.Values)
        {
            g.Dispose();
        }

        _graphs.Clear();
        DisposeSampleBuffers();
        _act.Dispose();
        _persistentTable.Dispose();
        _inputs.Dispose();
        _pool.Dispose();
        _invFreq.Dispose();
        _weights.Dispose();
        _matmul.Dispose();
        _gemm.Dispose();
        _kernels.Dispose();
        _stream.Dispose();
        _context.Dispose();
    }

    /// <summary>Fills the whole KV pool with pseudo-random bf16 values (tests and benchmarks: never time zeros).</summary>
    internal void FillPoolRandom(ulong seed, float scale)
    {
        _context.MakeCurrent();
        FillRandom(_pool.Pointer, _pool.Bytes / 2, seed, scale);
        _stream.Synchronize();
    }

    internal void FillRandom(ulong pointer, long count, ulong seed, float scale)
    {
        var args = new KernelArgs().Ptr(pointer).Long(count).Long((long)seed).Float(scale);
        _context.Launch(_kernels.FillRandom, ((uint)Math.Min(4096, (count + 255) / 256), 1, 1), 256, 0, _stream, ref args);
    }

    private static void CheckSupported(ModelConfig c)
    {
        if (c.HeadDim is not (16 or 32 or 64 or 128))
        {
            throw new NotSupportedException($"The CUDA kernels handle head widths 16, 32, 64 and 128, not {c.HeadDim}.");
        }

        if (c.NumHeads % c.NumKvHeads != 0 || c.GroupSize > 16)
        {
            throw new NotSupportedException($"The CUDA kernels need query heads ({c.NumHeads}) to be a multiple of KV heads ({c.NumKvHeads}), at most 16 per group.");
        }

        if (c.HiddenSize % 8 != 0 || c.IntermediateSize % 8 != 0)
        {
            throw new NotSupportedException($"The CUDA kernels need hidden ({c.HiddenSize}) and intermediate ({c.IntermediateSize}) sizes divisible by 8.");
        }

        if (c.AttentionOutputBias)
        {
            throw new NotSupportedException("The CUDA backend does not handle a bias on o_proj.");
        }
    }

    private CudaActivations NewActivations(int tokenCapacity)
    {
        var act = new CudaActivations(_context, _config, tokenCapacity, _options.MaxSequences, MaxSplits, Math.Min(tokenCapacity, Math.Max(_options.MaxSequences, 256)));
        _context.Memset(act.DecodeCounters.Pointer, 0, act.DecodeCounters.Bytes, _stream);
        _context.Memset(act.NormCounter.Pointer, 0, act.NormCounter.Bytes, _stream);
        return act;
    }

    private void CheckBlock(int block, string name)
    {
        if ((uint)block >= (uint)Layout.NumBlocks)
        {
            throw new ArgumentOutOfRangeException(name, block, $"Block {block} is outside the pool [0, {Layout.NumBlocks}).");
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
