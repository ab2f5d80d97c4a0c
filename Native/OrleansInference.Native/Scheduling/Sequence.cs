using OrleansInference.Native.Kv;

namespace OrleansInference.Native.Scheduling;

/// <summary>
/// One sample being generated: its tokens (prompt, then output), how many of them have K/V in the pool, and its
/// block table. Prefill, decode, chunked prefill and recompute after preemption are all the same thing here:
/// compute the tokens from <see cref="NumComputed"/> on; once every token is computed the next one is sampled.
/// </summary>
internal sealed class Sequence
{
    private readonly List<int> _tokens;
    private readonly List<ulong> _blockHashes = [];
    private readonly ulong _hashRoot;

    /// <param name="id">Unique within the engine.</param>
    /// <param name="tokens">Prompt tokens, followed by output tokens already produced (resume).</param>
    /// <param name="promptLength">How many of <paramref name="tokens"/> are prompt.</param>
    /// <param name="priority">Scheduling class.</param>
    /// <param name="arrival">Submission order (FCFS within a class).</param>
    /// <param name="sampleIndex">Sample index (RNG key and tie-break among samples of one request).</param>
    /// <param name="hashRoot">Root of the block hash chain (model id and cache salt).</param>
    /// <param name="blockSize">Tokens per block.</param>
    public Sequence(long id, IEnumerable<int> tokens, int promptLength, RequestPriority priority, long arrival, int sampleIndex, ulong hashRoot, int blockSize)
    {
        Id = id;
        _tokens = [.. tokens];
        PromptLength = promptLength;
        Priority = priority;
        Arrival = arrival;
        SampleIndex = sampleIndex;
        _hashRoot = hashRoot;
        BlockSize = blockSize;
        if (promptLength <= 0 || promptLength > _tokens.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(promptLength));
        }
    }

    private Sequence(Sequence parent, long id, int sampleIndex)
    {
        Id = id;
        _tokens = [.. parent._tokens];
        _blockHashes.AddRange(parent._blockHashes);
        PromptLength = parent.PromptLength;
        Priority = parent.Priority;
        Arrival = parent.Arrival;
        SampleIndex = sampleIndex;
        _hashRoot = parent._hashRoot;
        BlockSize = parent.BlockSize;
        NumComputed = parent.NumComputed;
        AdmittedLength = parent.AdmittedLength;
        PublishedBlocks = parent.PublishedBlocks;
        CachedPromptTokens = parent.CachedPromptTokens;
        Status = parent.Status;
        Tag = parent.Tag;
    }

    public long Id { get; }

    public RequestPriority Priority { get; }

    public long Arrival { get; }

    public int SampleIndex { get; }

    public int BlockSize { get; }

    /// <summary>Prompt followed by output.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    public int Length => _tokens.Count;

    public int PromptLength { get; }

    /// <summary>Output tokens, including resumed ones.</summary>
    public int OutputLength => _tokens.Count - PromptLength;

    /// <summary>Tokens whose K/V are in this sequence's blocks.</summary>
    public int NumComputed { get; set; }

    /// <summary>Tokens still to compute before the next token can be sampled.</summary>
    public int Remaining => _tokens.Count - NumComputed;

    /// <summary>A decode step computes exactly the last sampled token.</summary>
    public bool IsDecoding => Remaining == 1 && NumComputed > 0;

    /// <summary>Length when last admitted: tokens below it are prefill (or recompute), the rest decode.</summary>
    public int AdmittedLength { get; set; }

    /// <summary>Full blocks already offered to the prefix cache.</summary>
    public int PublishedBlocks { get; set; }

    public BlockTable Blocks { get; } = new();

    public SequenceStatus Status { get; set; }

    /// <summary>
    /// Running-sequence slots this sequence needs when admitted: N for a prompt about to be forked into N samples.
    /// </summary>
    public int Slots { get; set; } = 1;

    /// <summary>Tokens (prompt and resumed output) served from the prefix cache at the first admission (-1 until then).</summary>
    public int CachedPromptTokens { get; set; } = -1;

    /// <summary>Step in which the scheduler preempted it (not re-admitted in the same step).</summary>
    internal long PreemptedInStep { get; set; } = -1;

    /// <summary>The engine's per-sample state.</summary>
    public object? Tag { get; set; }

    public ReadOnlySpan<int> TokenSpan => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens);

    public void Append(int token) => _tokens.Add(token);

    /// <summary>Chained hashes of the first <paramref name="blocks"/> full blocks (computed once, then kept).</summary>
    public ReadOnlySpan<ulong> BlockHashes(int blocks)
    {
        if (blocks > _tokens.Count / BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks));
        }
        var tokens = TokenSpan;
        for (var i = _blockHashes.Count; i < blocks; i++)
        {
            var parent = i == 0 ? _hashRoot : _blockHashes[i - 1];
            _blockHashes.Add(BlockHasher.Next(parent, tokens.Slice(i * BlockSize, BlockSize)));
        }
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_blockHashes)[..blocks];
    }

    /// <summary>A new sample sharing everything computed so far (its block table is filled by the KV manager).</summary>
    public Sequence Fork(long id, int sampleIndex) => new(this, id, sampleIndex);

    public override string ToString() => $"seq {Id} (sample {SampleIndex}, {Status}, {NumComputed}/{Length})";
}
