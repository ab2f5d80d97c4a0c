using OrleansInference.Native.Backends;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>Step planning and kernel sequence of <see cref="CudaBackend"/>.</summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>What the attention of one step covers.</summary>
    /// <param name="Tokens">Tokens in the step.</param>
    /// <param name="Decodes">Single-token chunks (decode kernel; table rows 0..Decodes-1).</param>
    /// <param name="Splits">Context splits per decode sequence.</param>
    /// <param name="Tiles">64-query tiles of the multi-token chunks (prefill kernel).</param>
    private readonly record struct StepShape(int Tokens, int Decodes, int Splits, int Tiles);

    /// <summary>
    /// A step returning logits rows, or (<paramref name="wantIds"/>) each row's token: the argmax, or with
    /// <paramref name="sample"/> the choice of Sample.cu under the parameters packed beforehand.
    /// </summary>
    private void Run(IReadOnlyList<SequenceChunk> chunks, Span<float> logits, Span<int> ids, bool wantIds, bool sample = false)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(chunks);
        var (tokens, rows, width) = Validate(chunks);
        if (tokens == 0)
        {
            return;
        }

        int vocab = _config.VocabSize;
        if (!ComputesHead)
        {
            rows = 0;
        }
        else if (wantIds ? ids.Length < rows : logits.Length < (long)rows * vocab)
        {
            throw new ArgumentException(wantIds
                ? $"The step has {rows} logits rows; the id buffer holds {ids.Length}."
                : $"The step wants {rows} logits rows of {vocab}; the buffer holds {logits.Length} floats.");
        }

        if (wantIds && _argmaxKeys.Length < rows)
        {
            _argmaxKeys = new ulong[Math.Max(rows, 256)];
        }

        _context.MakeCurrent();
        if (_options.UseCudaGraphs && Profiler is null && IsPlainDecode(chunks))
        {
            RunDecodeGraph(chunks, width, logits, ids, wantIds, sample);
            return;
        }

        if (tokens > _act.TokenCapacity || tokens > _inputs.TokenCapacity)
        {
            Grow(tokens);
        }

        var shape = FillEager(chunks, tokens, width);
        _inputs.Upload(_context, chunks.Count, width, _stream);
        EnqueueLayers(shape);
        int headRows = _act.HeadRows;
        for (int r0 = 0; r0 < rows; r0 += headRows)
        {
            int n = Math.Min(headRows, rows - r0);
            EnqueueHead(r0, n, wantIds && !sample);
            if (sample)
            {
                EnqueueSample(r0, n);
                _context.CopyToHost(ids.Slice(r0, n), _sampleIds!.Pointer, _stream);
            }
            else if (wantIds)
            {
                _context.CopyToHost(_argmaxKeys.AsSpan(r0, n), _act.Ids.Pointer, _stream);
            }
            else
            {
                _context.CopyToHost(logits.Slice(r0 * vocab, n * vocab), _act.Logits.Pointer, _stream);
            }
        }

        _stream.Synchronize();
        Profiler?.Collect();
        if (wantIds && !sample)
        {
            KeysToIds(rows, ids);
        }
    }

    /// <summary>The argmax keys hold the inverted index in their low half.</summary>
    private void KeysToIds(int rows, Span<int> ids)
    {
        for (int r = 0; r < rows; r++)
        {
            ids[r] = (int)(0xffffffffu - (uint)_argmaxKeys[r]);
        }
    }

    /// <summary>Checks every chunk; returns the step's token count, logits row count and block-table width.</summary>
    private (int Tokens, int Rows, int Width) Validate(IReadOnlyList<SequenceChunk> chunks)
    {
        if (chunks.Count > _options.MaxSequences)
        {
            throw new ArgumentException($"The step has {chunks.Count} chunks; this backend takes at most {_options.MaxSequences} (CudaBackendOptions.MaxSequences).", nameof(chunks));
        }

        long tokens = 0, rows = 0;
        int width = 1, bs = Layout.BlockSize;
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

            int used = (int)((end + bs - 1) / bs);
            if (used > _inputs.TableWidthCapacity)
            {
                throw new ArgumentException($"Chunk {c} reaches position {end}, past the {_inputs.TableWidthCapacity * (long)bs} positions this backend was sized for.", nameof(chunks));
            }

            for (int b = 0; b < used; b++)
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

            width = Math.Max(width, used);
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

        return ((int)tokens, (int)rows, width);
    }

    private static bool IsPlainDecode(IReadOnlyList<SequenceChunk> chunks)
    {
        if (chunks.Count > Buckets[^1])
        {
            return false;
        }

        for (int c = 0; c < chunks.Count; c++)
        {
            if (chunks[c].Tokens.Length != 1 || chunks[c].Logits != LogitsMode.Last)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Query rows per prefill attention tile: 128 for the V3 kernel, 64 for the others.</summary>
    private int PrefillTileRows => PrefillAttentionVersion == 3 ? 128 : 64;

    /// <summary>Writes the staging block for a general step: decode chunks first in the tables, then prefill ones.</summary>
    private StepShape FillEager(IReadOnlyList<SequenceChunk> chunks, int tokens, int width)
    {
        var s = _inputs;
        int* h = s.H;
        int bs = Layout.BlockSize;
        int decodes = 0, prefills = 0, maxContext = 1;
        foreach (var chunk in chunks)
        {
            if (chunk.Tokens.Length == 1)
            {
                decodes++;
            }
        }

        int t = 0, r = 0, tiles = 0, d = 0;
        for (int c = 0; c < chunks.Count; c++)
        {
            var chunk = chunks[c];
            int n = chunk.Tokens.Length;
            int tableRow;
            if (n == 1)
            {
                tableRow = d;
                h[s.DecodeRows + d] = t;
                h[s.DecodeContext + d] = chunk.StartPosition + 1;
                maxContext = Math.Max(maxContext, chunk.StartPosition + 1);
                d++;
            }
            else
            {
                tableRow = decodes + prefills;
                int* info = h + s.Chunks + (4 * prefills);
                info[0] = t;
                info[1] = chunk.StartPosition;
                info[2] = n;
                info[3] = tableRow;
                int tileRows = PrefillTileRows;
                for (int q0 = 0; q0 < n; q0 += tileRows)
                {
                    _tileOrder.Add((chunk.StartPosition + Math.Min(q0 + tileRows, n), prefills, q0));
                    tiles++;
                }

                prefills++;
            }

            WriteTableRow(h + s.Tables + ((long)tableRow * width), chunk.BlockTable, width);
            for (int i = 0; i < n; i++, t++)
            {
                int pos = chunk.StartPosition + i;
                h[s.Tokens + t] = chunk.Tokens[i];
                h[s.Positions + t] = pos;
                h[s.Slots + t] = (chunk.BlockTable[pos / bs] * bs) + (pos % bs);
                if (chunk.Logits == LogitsMode.All || (chunk.Logits == LogitsMode.Last && i == n - 1))
                {
                    h[s.LogitRows + r++] = t;
                }
            }
        }

        // Causal tiles differ in work by their last position: launching the longest first keeps the last wave short.
        // The grid is (heads, tiles), heads varying fastest, so blocks start in this order across all heads; with
        // tiles first, every head's longest tile waited behind the shorter tiles of the heads before it.
        _tileOrder.Sort((x, y) => y.Work.CompareTo(x.Work));
        for (int i = 0; i < _tileOrder.Count; i++)
        {
            h[s.Tiles + (2 * i)] = _tileOrder[i].Chunk;
            h[s.Tiles + (2 * i) + 1] = _tileOrder[i].Q0;
        }

        _tileOrder.Clear();
        return new StepShape(tokens, decodes, decodes == 0 ? 0 : ChooseSplits(decodes, maxContext), tiles);
    }

    private void WriteTableRow(int* row, int[] table, int width)
    {
        int n = Math.Min(width, table.Length);
        new ReadOnlySpan<int>(table, 0, n).CopyTo(new Span<int>(row, width));
        new Span<int>(row + n, width - n).Fill(_trashBlock);
    }

    /// <summary>Enough blocks to fill the GPU twice, each split reading at least 64 keys, at most <see cref="MaxSplits"/>.</summary>
    private int ChooseSplits(int sequences, int maxContext)
    {
        int blocksWanted = 2 * _context.MultiprocessorCount;
        int splits = (blocksWanted + (sequences * _config.NumKvHeads) - 1) / (sequences * _config.NumKvHeads);
        splits = Math.Min(splits, (maxContext + 63) / 64);
        return Math.Clamp(splits, 1, MaxDecodeSplits);
    }

    /// <summary>Forgets the captured decode graphs (buffers moved, or a kernel choice changed).</summary>
    private void DropGraphs()
    {
        _stream.Synchronize();
        foreach (var g in _graphs.Values)
        {
            g.Dispose();
        }

        _graphs.Clear();
    }

    private void Grow(int tokens)
    {
        DropGraphs();
        int capacity = Math.Max(tokens, _act.TokenCapacity * 2);
        _act.Dispose();
        _act = NewActivations(capacity);
        if (tokens > _inputs.TokenCapacity)
        {
            int width = _inputs.TableWidthCapacity;
            _inputs.Dispose();
            _inputs = new CudaStepInputs(_context, capacity, _options.MaxSequences, width);
        }
    }

    /// <summary>
    /// Embedding, then every decoder layer, leaving the residual stream in <c>X</c>. At decode sizes the layer's small
    /// kernels ride on its GEMVs where <see cref="PlanFusion"/> allows (CudaBackend.Fused.cs).
    /// </summary>
    private void EnqueueLayers(StepShape shape)
    {
        var a = _act;
        var s = _inputs;
        var k = _kernels;
        int t = shape.Tokens, hidden = _config.HiddenSize, inter = _config.IntermediateSize, heads = _config.NumHeads;
        bool persistent = UsesPersistentDecode(shape);
        var fusion = persistent ? default : PlanFusion(t);

        Profiler?.Start(_stream);
        var args = new KernelArgs().Ptr(s.D(s.Tokens)).Ptr(_weights.Embedding).Ptr(a.X).Int(hidden);
        _context.Launch(k.EmbeddingGather, ((uint)t, 1, 1), 128, 0, _stream, ref args);
        Mark("embedding");
        if (persistent)
        {
            EnqueuePersistentLayers();
            return;
        }

        for (int layer = 0; layer < _config.NumLayers; layer++)
        {
            var w = _weights.Layers[layer];
            long layerOffset = layer * _layerElements;
            bool last = layer == _config.NumLayers - 1;

            // With the residual norm fused, the previous layer's down product already left this layer's input in Xn,
            // or the QKV GEMV normalizes the residual itself.
            if (!fusion.NormInPairs && (layer == 0 || !fusion.ResidualNorm))
            {
                EnqueueRmsNorm(w.InputNorm, t);
            }

            if (fusion.QkvSplits > 0)
            {
                if (!Omitted(fusion, DecodeStages.Qkv))
                {
                    EnqueueQkvRope(w, layerOffset, t, fusion.QkvSplits, fusion.NormInPairs ? w.InputNorm : null);
                }
            }
            else
            {
                _matmul.Run(w.Qkv.Pointer, _qDim + (2 * _kvDim), hidden, a.Xn.Pointer, t, a.Qkv.Pointer, GemmOutput.BFloat16, false, _stream);
                Mark("gemm_qkv");
                args = new KernelArgs().Ptr(a.Qkv).Ptr(w.QkvBias?.Pointer ?? 0).Ptr(s.D(s.Positions)).Ptr(s.D(s.Slots)).Ptr(_invFreq).Ptr(a.Q)
                    .Ptr(_pool).Long(_blockElements).Long(layerOffset).Long(_planeElements).Int(heads);
                _context.Launch(k.RopeStoreKv, ((uint)t, 1, 1), 128, 0, _stream, ref args);
                Mark("rope_store_kv");
            }

            if (!Omitted(fusion, DecodeStages.Attention))
            {
                EnqueueAttention(shape, layerOffset);
            }

            if (fusion.NormInPairs)
            {
                if (!Omitted(fusion, DecodeStages.O))
                {
                    _matmul.Run(w.O.Pointer, hidden, _qDim, a.Attn.Pointer, t, a.X.Pointer, GemmOutput.Float32, true, _stream);
                    Mark("gemm_o");
                }
            }
            else if (fusion.ResidualNorm)
            {
                EnqueueResidualNorm(w.O, _qDim, a.Attn, w.PostNorm, t, fusion.OSplits, "gemm_o+rms_norm");
            }
            else
            {
                _matmul.Run(w.O.Pointer, hidden, _qDim, a.Attn.Pointer, t, a.X.Pointer, GemmOutput.Float32, AccumulatesResidual, _stream);
                Mark("gemm_o");
                SumResidualOverRanks(t);
                EnqueueRmsNorm(w.PostNorm, t);
            }

            if (fusion.GateUpSplits > 0)
            {
                if (!Omitted(fusion, DecodeStages.GateUp))
                {
                    EnqueueGateUpSwiGlu(w, t, fusion.GateUpSplits, fusion.NormInPairs ? w.PostNorm : null);
                }
            }
            else
            {
                _matmul.Run(w.GateUp.Pointer, 2 * inter, hidden, a.Xn.Pointer, t, a.GateUp.Pointer, GemmOutput.BFloat16, false, _stream);
                Mark("gemm_gate_up");
                args = new KernelArgs().Ptr(a.GateUp).Ptr(a.Act).Int(inter);
                _context.Launch(k.SwiGlu, ((uint)((inter / 8) + 127) / 128, (uint)t, 1), 128, 0, _stream, ref args);
                Mark("swiglu");
            }

            if (fusion.NormInPairs && !last)
            {
                if (!Omitted(fusion, DecodeStages.Down))
                {
                    _matmul.Run(w.Down.Pointer, hidden, inter, a.Act.Pointer, t, a.X.Pointer, GemmOutput.Float32, true, _stream);
                    Mark("gemm_down");
                }
            }
            else if (fusion.ResidualNorm && !last)
            {
                EnqueueResidualNorm(w.Down, inter, a.Act, _weights.Layers[layer + 1].InputNorm, t, fusion.DownSplits, "gemm_down+rms_norm");
            }
            else
            {
                _matmul.Run(w.Down.Pointer, hidden, inter, a.Act.Pointer, t, a.X.Pointer, GemmOutput.Float32, AccumulatesResidual, _stream);
                Mark("gemm_down");
                SumResidualOverRanks(t);
            }
        }
    }

    /// <summary>Whether the fused layer leaves <paramref name="stage"/> out (<see cref="OmittedStages"/>; a timing ablation).</summary>
    private bool Omitted(FusionPlan fusion, DecodeStages stage) => fusion.NormInPairs && (_omittedStages & stage) != 0;

    /// <summary>Xn = RMSNorm(X) · weight for the step's first <paramref name="tokens"/> rows.</summary>
    private void EnqueueRmsNorm(DeviceBuffer weight, int tokens) => EnqueueRmsNorm(weight, 0, tokens);

    /// <summary>Xn[r] = RMSNorm(X[rows[r]]) · weight for r &lt; <paramref name="count"/> (rows = 0: X[r]).</summary>
    private void EnqueueRmsNorm(DeviceBuffer weight, ulong rows, int count)
    {
        int hidden = _config.HiddenSize;
        float eps = (float)_config.RmsNormEps;
        if (hidden % 4 == 0 && hidden <= 4096)
        {
            var args = new KernelArgs().Ptr(_act.X).Ptr(rows).Int(count).Ptr(weight).Ptr(_act.Xn).Float(eps);
            _context.Launch(_kernels.RmsNormWarp, ((uint)(count + 7) / 8, 1, 1), 256, 0, _stream, ref args);
        }
        else
        {
            var args = new KernelArgs().Ptr(_act.X).Ptr(rows).Ptr(weight).Ptr(_act.Xn).Int(hidden).Float(eps);
            _context.Launch(_kernels.RmsNorm, ((uint)count, 1, 1), 256, 0, _stream, ref args);
        }

        Mark("rms_norm");
    }

    /// <summary>The step's attention: the decode kernel for single-token chunks, the prefill kernel for the others.</summary>
    private void EnqueueAttention(StepShape shape, long layerOffset)
    {
        var a = _act;
        var s = _inputs;
        var k = _kernels;
        int heads = _config.NumHeads;
        if (shape.Decodes > 0)
        {
            var args = new KernelArgs().Ptr(a.Q).Ptr(s.D(s.DecodeRows)).Ptr(s.D(s.DecodeContext)).Ptr(s.D(s.Tables)).Ptr(s.D(s.TableStride))
                .Ptr(_pool).Long(_blockElements).Long(layerOffset).Long(_planeElements).Int(heads).Float(_scaleLog2).Ptr(a.PartialO).Ptr(a.PartialMl);
            if (DecodeAttentionVersion == 2)
            {
                // Merges its own splits (the last block of each sequence's KV head) and writes the output.
                args = args.Ptr(a.DecodeCounters).Ptr(a.Attn);
                _context.Launch(k.DecodeAttentionV2, ((uint)shape.Splits, (uint)_config.NumKvHeads, (uint)shape.Decodes), 128, 0, _stream, ref args);
            }
            else
            {
                _context.Launch(k.DecodeAttention, ((uint)shape.Splits, (uint)_config.NumKvHeads, (uint)shape.Decodes), 128, 0, _stream, ref args);
                args = new KernelArgs().Ptr(a.PartialO).Ptr(a.PartialMl).Ptr(s.D(s.DecodeRows)).Int(shape.Splits).Int(shape.Decodes).Int(heads).Ptr(a.Attn);
                _context.Launch(k.DecodeMerge, ((uint)shape.Decodes, (uint)heads, 1), (uint)_config.HeadDim, 0, _stream, ref args);
            }

            Mark("decode_attention");
        }

        if (shape.Tiles > 0)
        {
            var args = new KernelArgs().Ptr(a.Q).Ptr(s.D(s.Tiles)).Ptr(s.D(s.Chunks)).Ptr(s.D(s.Tables)).Ptr(s.D(s.TableStride))
                .Ptr(_pool).Long(_blockElements).Long(layerOffset).Long(_planeElements).Int(heads).Float(_scaleLog2).Ptr(a.Attn);
            if (PrefillAttentionVersion == 3)
            {
                _context.Launch(k.PrefillAttentionV3, ((uint)heads, (uint)shape.Tiles, 1), 128, (uint)k.PrefillAttentionV2SharedBytes, _stream, ref args);
            }
            else if (PrefillAttentionVersion == 2)
            {
                _context.Launch(k.PrefillAttentionV2, ((uint)heads, (uint)shape.Tiles, 1), 128, (uint)k.PrefillAttentionV2SharedBytes, _stream, ref args);
            }
            else
            {
                _context.Launch(k.PrefillAttention, ((uint)heads, (uint)shape.Tiles, 1), 128, 0, _stream, ref args);
            }

            Mark("prefill_attention");
        }
    }

    /// <summary>Final norm of logits rows [first, first + count), the LM head, and (for greedy) their argmax.</summary>
    private void EnqueueHead(int first, int count, bool argmax)
    {
        var a = _act;
        var s = _inputs;
        int hidden = _config.HiddenSize, vocab = _config.VocabSize;
        EnqueueRmsNorm(_weights.FinalNorm, s.D(s.LogitRows + first), count);
        _matmul.Run(_weights.LmHead.Pointer, vocab, hidden, a.Xn.Pointer, count, a.Logits.Pointer, GemmOutput.Float32, false, _stream);
        Mark("gemm_lm_head");
        if (argmax)
        {
            // Each row is spread over enough blocks to fill the GPU; blocks combine by 64-bit atomicMax.
            int parts = Math.Clamp(((2 * _context.MultiprocessorCount) + count - 1) / count, 1, 64);
            _context.Memset32(a.Ids.Pointer, 0, 2L * count, _stream);
            var args = new KernelArgs().Ptr(a.Logits).Int(vocab).Ptr(a.Ids);
            _context.Launch(_kernels.Argmax, ((uint)parts, (uint)count, 1), 256, 0, _stream, ref args);
            Mark("argmax");
        }
    }

    /// <summary>
    /// A decode step replayed from the graph of the smallest bucket that holds it: padding rows read and write only
    /// the spare block, and only the real rows' results are copied back.
    /// </summary>
    private void RunDecodeGraph(IReadOnlyList<SequenceChunk> chunks, int width, Span<float> logits, Span<int> ids, bool wantIds, bool sample)
    {
        int count = chunks.Count;
        int bucket = Buckets.First(b => b >= count);
        if (bucket > _act.TokenCapacity || bucket > _act.HeadRows || bucket > _inputs.TokenCapacity)
        {
            Grow(bucket);
        }

        var s = _inputs;
        int* h = s.H;
        int bs = Layout.BlockSize;
        for (int i = 0; i < bucket; i++)
        {
            int* row = h + s.Tables + ((long)i * width);
            h[s.LogitRows + i] = i;
            h[s.DecodeRows + i] = i;
            if (i < count)
            {
                var chunk = chunks[i];
                int pos = chunk.StartPosition;
                h[s.Tokens + i] = chunk.Tokens[0];
                h[s.Positions + i] = pos;
                h[s.Slots + i] = (chunk.BlockTable[pos / bs] * bs) + (pos % bs);
                h[s.DecodeContext + i] = pos + 1;
                WriteTableRow(row, chunk.BlockTable, width);
            }
            else
            {
                h[s.Tokens + i] = 0;
                h[s.Positions + i] = 0;
                h[s.Slots + i] = _trashBlock * bs;
                h[s.DecodeContext + i] = 1;
                new Span<int>(row, width).Fill(_trashBlock);
            }
        }

        s.Upload(_context, bucket, width, _stream);
        if (!_graphs.TryGetValue(bucket, out var graph))
        {
            graph = Capture(bucket);
            _graphs[bucket] = graph;
        }

        graph.Launch(_stream);
        if (!ComputesHead)
        {
            // A tensor-parallel rank past the first: its part is done once its stream is.
        }
        else if (sample)
        {
            // The graph leaves the bucket's logits in place; the real rows are drawn from them.
            EnqueueSample(0, count);
            _context.CopyToHost(ids[..count], _sampleIds!.Pointer, _stream);
        }
        else if (wantIds)
        {
            _context.CopyToHost(_argmaxKeys.AsSpan(0, count), _act.Ids.Pointer, _stream);
        }
        else
        {
            _context.CopyToHost(logits[..(count * _config.VocabSize)], _act.Logits.Pointer, _stream);
        }

        _stream.Synchronize();
        if (wantIds && !sample)
        {
            KeysToIds(count, ids);
        }
    }

    private CudaGraphExec Capture(int bucket)
    {
        var shape = new StepShape(bucket, bucket, GraphSplits(bucket), 0);
        int hidden = _config.HiddenSize, inter = _config.IntermediateSize;

        // Products are tuned outside the capture, so the graph only replays choices already made.
        var a = _act;
        var w = _weights.Layers[0];
        _matmul.Prepare(w.Qkv.Pointer, _qDim + (2 * _kvDim), hidden, a.Xn.Pointer, bucket, GemmOutput.BFloat16, false, _stream);
        _matmul.Prepare(w.O.Pointer, hidden, _qDim, a.Attn.Pointer, bucket, GemmOutput.Float32, AccumulatesResidual, _stream);
        _matmul.Prepare(w.GateUp.Pointer, 2 * inter, hidden, a.Xn.Pointer, bucket, GemmOutput.BFloat16, false, _stream);
        _matmul.Prepare(w.Down.Pointer, hidden, inter, a.Act.Pointer, bucket, GemmOutput.Float32, AccumulatesResidual, _stream);
        if (ComputesHead)
        {
            _matmul.Prepare(_weights.LmHead.Pointer, _config.VocabSize, hidden, a.Xn.Pointer, bucket, GemmOutput.Float32, false, _stream);
        }

        _stream.Synchronize();
        _stream.BeginCapture();
        try
        {
            EnqueueLayers(shape);
            if (ComputesHead)
            {
                EnqueueHead(0, bucket, argmax: true);
            }
        }
        catch
        {
            try
            {
                _stream.EndCapture().Dispose();
            }
            catch (CudaException)
            {
                // The capture is already invalid; the original error is the one to report.
            }

            throw;
        }

        return _stream.EndCapture();
    }

    private void Mark(string stage) => Profiler?.Mark(_stream, stage);

    /// <summary>Splits for a graph bucket: contexts are unknown at capture, so enough blocks to fill the GPU twice.</summary>
    private int GraphSplits(int bucket)
    {
        int blocksWanted = 2 * _context.MultiprocessorCount;
        int perSplit = bucket * _config.NumKvHeads;
        return Math.Clamp((blocksWanted + perSplit - 1) / perSplit, 1, MaxDecodeSplits);
    }
}
