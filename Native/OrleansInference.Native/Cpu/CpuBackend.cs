using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// The forward pass on the CPU in float32 over a paged KV pool. Weights are converted to float32 once, at
/// construction. Each step processes all tokens of all chunks together, so every weight matrix is streamed once per
/// step (what makes batched decode cheap), spreading output rows (and attention heads) over <c>threads</c> workers.
/// Numerics follow transformers: RMSNorm in float32, RoPE on pairs (i, i + D/2) with default/linear/llama3 scaling,
/// causal GQA attention with a float32 softmax, SwiGLU MLP. Results are batch-invariant: a token's logits do not
/// depend on which other tokens share its step, nor on how its prompt was chunked.
/// </summary>
/// <remarks>
/// KV layout (<see cref="KvLayout.ElementType"/> = F32): one array per block, <c>[layer][K|V][slot][kvHead][headDim]</c>.
/// </remarks>
public sealed unsafe partial class CpuBackend : IComputeBackend
{
    // Below this many multiply-adds a matrix product runs on the calling thread: fan-out costs more than it saves.
    private const long ParallelWorkThreshold = 1 << 16;
    private const int AttentionTile = 64;

    private readonly ModelConfig _config;
    private readonly CpuWeights _weights;
    private readonly CpuKvPool _kv;
    private readonly float[] _invFreq;
    private readonly int _threads;
    private readonly ParallelOptions _parallel;
    private readonly int _qDim;
    private readonly int _kvDim;
    private readonly float _eps;
    private readonly float _scale;
    private readonly Action<int> _matMulTile;
    private readonly Action<int> _attentionItem;
    private CpuScratch _scratch;
    private bool _disposed;

    // State of the product or attention pass being fanned out (the engine calls from one thread at a time).
    private float* _mmX;
    private int _mmXStride;
    private int _mmTokens;
    private PackedWeights? _mmW;
    private float* _mmY;
    private int _mmYStride;
    private int _mmTilePanels;
    private IReadOnlyList<SequenceChunk>? _chunks;
    private int _layer;

    /// <summary>Creates the backend: converts <paramref name="model"/>'s weights and allocates the KV pool.</summary>
    /// <param name="model">The model (its tensors are read once here).</param>
    /// <param name="numBlocks">KV blocks in the pool.</param>
    /// <param name="blockSize">Tokens per block.</param>
    /// <param name="threads">Worker threads; 0 = all cores.</param>
    /// <param name="maxBatchTokens">Tokens per step the scratch buffers are sized for (larger steps grow them once).</param>
    public CpuBackend(LoadedModel model, int numBlocks, int blockSize, int threads = 0, int maxBatchTokens = 512)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchTokens);
        _config = model.Config;
        _weights = CpuWeights.Load(_config, model.Tensors);
        Layout = new KvLayout(numBlocks, blockSize, _config.NumLayers, _config.NumKvHeads, _config.HeadDim, DType.F32);
        _kv = new CpuKvPool(Layout);
        _invFreq = RotaryFrequencies.Compute(_config);
        _threads = threads == 0 ? Environment.ProcessorCount : threads;
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = _threads };
        _qDim = _config.NumHeads * _config.HeadDim;
        _kvDim = _config.NumKvHeads * _config.HeadDim;
        _eps = (float)_config.RmsNormEps;
        _scale = 1f / MathF.Sqrt(_config.HeadDim);
        _matMulTile = MatMulTile;
        _attentionItem = AttentionItem;
        _scratch = NewScratch(maxBatchTokens);
    }

    /// <inheritdoc />
    public string Name => "cpu";

    /// <inheritdoc />
    public ModelConfig Model => _config;

    /// <inheritdoc />
    public KvLayout Layout { get; }

    /// <summary>Worker threads used.</summary>
    public int Threads => _threads;

    /// <summary>
    /// Set when this backend computes one rank's part of a tensor-parallel model: the o/down products' partial sums
    /// are summed over ranks before they join the residual stream, and only rank 0 computes the LM head.
    /// </summary>
    internal CpuTensorParallelRank? TensorParallel { get; set; }

    /// <inheritdoc />
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Forward(IReadOnlyList<SequenceChunk> chunks, Span<float> logits)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(chunks);
        var (tokens, rows) = Validate(chunks);
        if (tokens == 0)
        {
            return;
        }

        int vocab = _config.VocabSize;
        bool head = TensorParallel is not { ComputesHead: false };
        if (head && logits.Length < (long)rows * vocab)
        {
            throw new ArgumentException($"The step wants {rows} logits rows of {vocab}; the buffer holds {logits.Length} floats.", nameof(logits));
        }

        if (tokens > _scratch.Capacity)
        {
            _scratch = NewScratch(tokens);
        }

        var s = _scratch;
        long attentionWork = Prepare(chunks, s);
        int h = _config.HiddenSize;
        _chunks = chunks;
        try
        {
            for (int layer = 0; layer < _config.NumLayers; layer++)
            {
                var w = _weights.Layers[layer];
                for (int t = 0; t < tokens; t++)
                {
                    CpuKernels.RmsNorm(s.X + ((long)t * h), w.InputNorm.Pointer, s.Xn + ((long)t * h), h, _eps);
                }

                MatMul(s.Xn, h, tokens, w.Qkv, s.Qkv, s.QkvStride);
                ApplyRopeAndStore(s, tokens, layer);
                _layer = layer;
                Run(tokens * _config.NumKvHeads, _attentionItem, attentionWork);
                MatMul(s.Attn, _qDim, tokens, w.O, s.Proj, h);
                TensorParallel?.Sum(s.Proj, tokens * h);
                TensorPrimitives.Add(new ReadOnlySpan<float>(s.X, tokens * h), new ReadOnlySpan<float>(s.Proj, tokens * h), new Span<float>(s.X, tokens * h));

                for (int t = 0; t < tokens; t++)
                {
                    CpuKernels.RmsNorm(s.X + ((long)t * h), w.PostNorm.Pointer, s.Xn + ((long)t * h), h, _eps);
                }

                int inter = _config.IntermediateSize;
                MatMul(s.Xn, h, tokens, w.GateUp, s.GateUp, 2 * inter);
                for (int t = 0; t < tokens; t++)
                {
                    float* gu = s.GateUp + ((long)t * 2 * inter);
                    CpuKernels.SwiGlu(gu, gu + inter, s.Act + ((long)t * inter), inter);
                }

                MatMul(s.Act, inter, tokens, w.Down, s.Proj, h);
                TensorParallel?.Sum(s.Proj, tokens * h);
                TensorPrimitives.Add(new ReadOnlySpan<float>(s.X, tokens * h), new ReadOnlySpan<float>(s.Proj, tokens * h), new Span<float>(s.X, tokens * h));
            }

            if (rows == 0 || !head)
            {
                return;
            }

            for (int r = 0; r < rows; r++)
            {
                CpuKernels.RmsNorm(s.X + ((long)s.LogitRows[r] * h), _weights.FinalNorm.Pointer, s.Xn + ((long)r * h), h, _eps);
            }

            fixed (float* output = logits)
            {
                MatMul(s.Xn, h, rows, _weights.LmHead, output, vocab);
            }
        }
        finally
        {
            _chunks = null;
            _mmW = null;
        }
    }

    /// <inheritdoc />
    public void CopyBlock(int source, int destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _kv.Copy(source, destination);
    }

    /// <inheritdoc />
    public void ReadBlock(int block, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _kv.Read(block, destination);
    }

    /// <inheritdoc />
    public void WriteBlock(int block, ReadOnlySpan<byte> source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _kv.Write(block, source);
    }

    /// <inheritdoc />
    public void Dispose() => _disposed = true;

    private CpuScratch NewScratch(int capacity) =>
        new(capacity, _config.HiddenSize, _qDim, _kvDim, _config.IntermediateSize, _config.HeadDim);

    /// <summary>Checks every chunk; returns the step's token count and logits row count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private (int Tokens, int Rows) Validate(IReadOnlyList<SequenceChunk> chunks)
    {
        long tokens = 0, rows = 0;
        int bs = Layout.BlockSize;
        for (int c = 0; c < chunks.Count; c++)
        {
            var chunk = chunks[c];
            if (chunk.Tokens is null || chunk.Tokens.Length == 0)
            {
                throw new ArgumentException($"Chunk {c} has no tokens.", nameof(chunks));
            }

            if (chunk.BlockTable is null)
            {
                throw new ArgumentException($"Chunk {c} has no block table.", nameof(chunks));
            }

            if (chunk.StartPosition < 0)
            {
                throw new ArgumentException($"Chunk {c} starts at negative position {chunk.StartPosition}.", nameof(chunks));
            }

            long end = (long)chunk.StartPosition + chunk.Tokens.Length;
            if (end > (long)chunk.BlockTable.Length * bs)
            {
                throw new ArgumentException(
                    $"Chunk {c} covers positions [{chunk.StartPosition}, {end}) but its block table of {chunk.BlockTable.Length} blocks holds {(long)chunk.BlockTable.Length * bs}.",
                    nameof(chunks));
            }

            int usedBlocks = (int)((end + bs - 1) / bs);
            for (int b = 0; b < usedBlocks; b++)
            {
                if ((uint)chunk.BlockTable[b] >= (uint)Layout.NumBlocks)
                {
                    throw new ArgumentException($"Chunk {c}: block table entry {b} is {chunk.BlockTable[b]}, outside the pool [0, {Layout.NumBlocks}).", nameof(chunks));
                }
            }

            foreach (int id in chunk.Tokens)
            {
                if ((uint)id >= (uint)_config.VocabSize)
                {
                    throw new ArgumentException($"Chunk {c}: token id {id} is outside the vocabulary [0, {_config.VocabSize}).", nameof(chunks));
                }
            }

            tokens += chunk.Tokens.Length;
            rows += chunk.Logits switch
            {
                LogitsMode.None => 0,
                LogitsMode.Last => 1,
                LogitsMode.All => chunk.Tokens.Length,
                _ => throw new ArgumentException($"Chunk {c}: unknown logits mode {chunk.Logits}.", nameof(chunks)),
            };
        }

        if (tokens > int.MaxValue / Math.Max(_config.HiddenSize, 2 * _config.IntermediateSize))
        {
            throw new ArgumentException($"A step of {tokens} tokens is too large.", nameof(chunks));
        }

        return ((int)tokens, (int)rows);
    }

    /// <summary>Per-token positions, chunk indices, logits rows, RoPE tables and embeddings.</summary>
    /// <returns>The attention pass's multiply-adds, to decide whether to fan it out.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private long Prepare(IReadOnlyList<SequenceChunk> chunks, CpuScratch s)
    {
        long attentionWork = 0;
        int h = _config.HiddenSize, half = _config.HeadDim / 2;
        int t = 0, r = 0;
        for (int c = 0; c < chunks.Count; c++)
        {
            var chunk = chunks[c];
            for (int i = 0; i < chunk.Tokens.Length; i++, t++)
            {
                int pos = chunk.StartPosition + i;
                s.Positions[t] = pos;
                attentionWork += (pos + 1L) * _qDim * 2;
                s.ChunkOf[t] = c;
                if (chunk.Logits == LogitsMode.All || (chunk.Logits == LogitsMode.Last && i == chunk.Tokens.Length - 1))
                {
                    s.LogitRows[r++] = t;
                }

                _weights.Embedding.Row(chunk.Tokens[i]).CopyTo(new Span<float>(s.X + ((long)t * h), h));

                // As transformers: angle = float32(position) · float32(inv_freq), then cos/sin in float32.
                float* cos = s.Cos + ((long)t * half), sin = s.Sin + ((long)t * half);
                for (int k = 0; k < half; k++)
                {
                    float angle = pos * _invFreq[k];
                    cos[k] = MathF.Cos(angle);
                    sin[k] = MathF.Sin(angle);
                }
            }
        }

        return attentionWork;
    }

    /// <summary>Rotates q and k of every token, then writes k and v into the token's page slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ApplyRopeAndStore(CpuScratch s, int tokens, int layer)
    {
        int half = _config.HeadDim / 2, bs = Layout.BlockSize;
        for (int t = 0; t < tokens; t++)
        {
            float* q = s.Qkv + ((long)t * s.QkvStride);
            float* k = q + _qDim;
            float* v = k + _kvDim;
            float* cos = s.Cos + ((long)t * half), sin = s.Sin + ((long)t * half);
            CpuKernels.Rope(q, _config.NumHeads, _config.HeadDim, cos, sin);
            CpuKernels.Rope(k, _config.NumKvHeads, _config.HeadDim, cos, sin);
            int pos = s.Positions[t];
            int block = _chunks![s.ChunkOf[t]].BlockTable[pos / bs];
            new ReadOnlySpan<float>(k, _kvDim).CopyTo(new Span<float>(_kv.Row(block, pos % bs, layer, 0), _kvDim));
            new ReadOnlySpan<float>(v, _kvDim).CopyTo(new Span<float>(_kv.Row(block, pos % bs, layer, 1), _kvDim));
        }
    }

    /// <summary>Y[T, W.Rows] = X[T, W.Cols] · Wᵀ (+ bias), tiled over output panels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MatMul(float* x, int xStride, int tokens, PackedWeights w, float* y, int yStride)
    {
        _mmX = x;
        _mmXStride = xStride;
        _mmTokens = tokens;
        _mmW = w;
        _mmY = y;
        _mmYStride = yStride;
        long work = (long)tokens * w.Rows * w.Cols;
        int tiles = work < ParallelWorkThreshold || _threads == 1 ? 1 : Math.Min(_threads * 4, w.Panels);
        _mmTilePanels = (w.Panels + tiles - 1) / tiles;
        tiles = (w.Panels + _mmTilePanels - 1) / _mmTilePanels;
        Run(tiles, _matMulTile, work);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MatMulTile(int tile)
    {
        var w = _mmW!;
        int p0 = tile * _mmTilePanels;
        int p1 = Math.Min(w.Panels, p0 + _mmTilePanels);
        CpuKernels.MatMul(_mmX, _mmXStride, _mmTokens, w, _mmY, _mmYStride, p0, p1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Run(int count, Action<int> body, long work)
    {
        if (count == 1 || _threads == 1 || work < ParallelWorkThreshold)
        {
            for (int i = 0; i < count; i++)
            {
                body(i);
            }
        }
        else
        {
            Parallel.For(0, count, _parallel, body);
        }
    }

    /// <summary>
    /// Causal attention for one token and one KV head (all query heads of its group), over the token's pages,
    /// with a tiled online softmax in float32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AttentionItem(int item)
    {
        var s = _scratch;
        int kvHeads = _config.NumKvHeads, d = _config.HeadDim, group = _config.GroupSize, bs = Layout.BlockSize;
        int t = item / kvHeads, g = item % kvHeads;
        int pos = s.Positions[t];
        int[] table = _chunks![s.ChunkOf[t]].BlockTable;
        float* q = s.Qkv + ((long)t * s.QkvStride) + (g * group * d);
        float* output = s.Attn + ((long)t * _qDim) + (g * group * d);

        float* scores = stackalloc float[group * AttentionTile];
        float* max = stackalloc float[group];
        float* sum = stackalloc float[group];
        var acc = new Span<float>(output, group * d);
        acc.Clear();
        for (int h = 0; h < group; h++)
        {
            max[h] = float.NegativeInfinity;
            sum[h] = 0f;
        }

        int keyOffset = _kv.PlaneOffset(_layer, 0) + (g * d);
        int valueOffset = _kv.PlaneOffset(_layer, 1) + (g * d);
        int rowFloats = _kv.RowFloats;
        int length = pos + 1;
        for (int j0 = 0; j0 < length; j0 += AttentionTile)
        {
            int n = Math.Min(AttentionTile, length - j0);
            for (int jj = 0; jj < n; jj++)
            {
                int j = j0 + jj;
                float* key = _kv.Block(table[j / bs]) + keyOffset + ((j % bs) * rowFloats);
                for (int h = 0; h < group; h++)
                {
                    scores[(h * AttentionTile) + jj] = CpuKernels.Dot(q + (h * d), key, d) * _scale;
                }
            }

            for (int h = 0; h < group; h++)
            {
                var sc = new Span<float>(scores + (h * AttentionTile), n);
                float newMax = MathF.Max(max[h], TensorPrimitives.Max(sc));
                float correction = MathF.Exp(max[h] - newMax); // exp(-inf) = 0 on the first tile
                max[h] = newMax;
                TensorPrimitives.Subtract(sc, newMax, sc);
                TensorPrimitives.Exp(sc, sc);
                sum[h] = (sum[h] * correction) + TensorPrimitives.Sum(sc);
                if (correction != 1f)
                {
                    var a = acc.Slice(h * d, d);
                    TensorPrimitives.Multiply(a, correction, a);
                }
            }

            for (int jj = 0; jj < n; jj++)
            {
                int j = j0 + jj;
                float* value = _kv.Block(table[j / bs]) + valueOffset + ((j % bs) * rowFloats);
                for (int h = 0; h < group; h++)
                {
                    CpuKernels.Axpy(scores[(h * AttentionTile) + jj], value, output + (h * d), d);
                }
            }
        }

        for (int h = 0; h < group; h++)
        {
            var a = acc.Slice(h * d, d);
            TensorPrimitives.Multiply(a, 1f / sum[h], a);
        }
    }
}
