using OrleansInference.Native.Backends;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>Token selection on the GPU (<see cref="ITokenSelectingBackend"/>): argmax and the sampler's rule in Sample.cu.</summary>
public sealed partial class CudaBackend : ITokenSelectingBackend
{
    /// <summary>32-bit words per row in the sampling parameters (SAMPLE_PARAM_WORDS in Sample.cu).</summary>
    internal const int SampleParamWords = 12;

    private const uint SampleThreads = 1024;

    private uint[] _sampleHost = [];
    private DeviceBuffer? _sampleParams;
    private DeviceBuffer? _sampleIds;
    private DeviceBuffer? _sampleUniforms;

    /// <inheritdoc />
    /// <remarks>
    /// An all-greedy step is <see cref="ForwardGreedy"/> (the decode graphs end in argmax); otherwise the logits stay
    /// on the device and Sample.cu picks each row's token, greedy rows included.
    /// </remarks>
    public void ForwardSelect(IReadOnlyList<SequenceChunk> chunks, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int count = SelectionRows.Count(chunks, rows, tokenIds);
        var allGreedy = true;
        foreach (var r in rows)
        {
            allGreedy &= r.IsGreedy;
        }

        if (allGreedy)
        {
            ForwardGreedy(chunks, tokenIds);
            return;
        }

        PackSampling(rows);
        Run(chunks, default, tokenIds, wantIds: true, sample: true);
        CheckSampled(tokenIds[..count]);
    }

    /// <summary>
    /// Tests: selects tokens from given logits rows (at most the head's row capacity) with Sample.cu, and returns the
    /// Philox uniform each row drew, so both can be compared with the CPU sampler.
    /// </summary>
    internal void SelectFromLogits(ReadOnlySpan<float> logits, ReadOnlySpan<RowSampling> rows, Span<int> tokenIds, Span<double> uniforms)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int vocab = _config.VocabSize;
        int count = rows.Length;
        if (logits.Length != (long)count * vocab || tokenIds.Length < count || uniforms.Length < count || count > _act.HeadRows)
        {
            throw new ArgumentException($"Expected {count} rows of {vocab} logits (at most {_act.HeadRows}) and room for {count} ids and uniforms.");
        }

        _context.MakeCurrent();
        PackSampling(rows);
        _context.CopyToDevice(_act.Logits.Pointer, logits, _stream);
        EnqueueSample(0, count, withUniforms: true);
        _context.CopyToHost(tokenIds[..count], _sampleIds!.Pointer, _stream);
        _context.CopyToHost(uniforms[..count], _sampleUniforms!.Pointer, _stream);
        _stream.Synchronize();
        CheckSampled(tokenIds[..count]);
    }

    /// <summary>
    /// Host side of Sample.cu's parameter rows: 1/T (0 = greedy), top-k, top-p, ln(min_p) and whether min-p applies,
    /// seed, position and sample index. 1/T and ln(min_p) are computed here as the CPU sampler computes them.
    /// </summary>
    internal static void PackSamplingRow(in RowSampling r, Span<uint> words)
    {
        words[..SampleParamWords].Clear();
        words[0] = r.IsGreedy ? 0u : BitConverter.SingleToUInt32Bits(1f / r.Temperature);
        words[1] = (uint)Math.Max(r.TopK, 0);
        words[2] = BitConverter.SingleToUInt32Bits(r.TopP);
        words[3] = BitConverter.SingleToUInt32Bits(r.MinP > 0f ? MathF.Log(r.MinP) : 0f);
        words[4] = r.MinP > 0f ? 1u : 0u;
        words[5] = (uint)r.Seed;
        words[6] = (uint)(r.Seed >> 32);
        var position = unchecked((ulong)r.Position);
        words[7] = (uint)position;
        words[8] = (uint)(position >> 32);
        words[9] = unchecked((uint)r.SampleIndex);
    }

    private void PackSampling(ReadOnlySpan<RowSampling> rows)
    {
        int words = rows.Length * SampleParamWords;
        if (_sampleHost.Length < words)
        {
            _sampleHost = new uint[Math.Max(words, 64 * SampleParamWords)];
        }

        for (int r = 0; r < rows.Length; r++)
        {
            PackSamplingRow(rows[r], _sampleHost.AsSpan(r * SampleParamWords, SampleParamWords));
        }

        EnsureSampleBuffers(rows.Length);
    }

    private void EnsureSampleBuffers(int rows)
    {
        if (_sampleIds is not null && _sampleIds.Bytes >= rows * 4L)
        {
            return;
        }

        int capacity = Math.Max(rows, 256);
        _context.MakeCurrent();
        _stream.Synchronize();
        DisposeSampleBuffers();
        _sampleParams = _context.Allocate(capacity * SampleParamWords * 4L);
        _sampleIds = _context.Allocate(capacity * 4L);
        _sampleUniforms = _context.Allocate(capacity * 8L);
    }

    /// <summary>Uploads the parameters of rows [first, first + count) and selects from the logits buffer's first count rows.</summary>
    private void EnqueueSample(int first, int count, bool withUniforms = false)
    {
        _context.CopyToDevice(_sampleParams!.Pointer, (ReadOnlySpan<uint>)_sampleHost.AsSpan(first * SampleParamWords, count * SampleParamWords), _stream);
        var args = new KernelArgs().Ptr(_act.Logits).Int(_config.VocabSize).Ptr(_sampleParams).Ptr(_sampleIds!)
            .Ptr(withUniforms ? _sampleUniforms!.Pointer : 0);
        _context.Launch(_kernels.Sample, ((uint)count, 1, 1), SampleThreads, 0, _stream, ref args);
        Mark("sample");
    }

    private void CheckSampled(ReadOnlySpan<int> ids)
    {
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)_config.VocabSize)
            {
                throw new CudaException($"sample_rows returned token {id}, outside the vocabulary [0, {_config.VocabSize}).");
            }
        }
    }

    private void DisposeSampleBuffers()
    {
        _sampleParams?.Dispose();
        _sampleIds?.Dispose();
        _sampleUniforms?.Dispose();
        _sampleParams = _sampleIds = _sampleUniforms = null;
    }
}
