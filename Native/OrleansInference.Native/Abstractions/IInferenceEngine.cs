using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native;

/// <summary>
/// The seam between control plane and data plane: one engine owns one model on one device, its KV block pool and
/// its scheduler. All methods are thread-safe; the engine's step loop never waits for a consumer.
/// </summary>
public interface IInferenceEngine : IAsyncDisposable
{
    /// <summary>Static facts: model, block size, hash version, context length, device.</summary>
    EngineInfo Info { get; }

    /// <summary>The model's tokenizer (and chat template).</summary>
    ITextTokenizer Tokenizer { get; }

    /// <summary>
    /// Validates and enqueues a request and returns at once. Throws <see cref="EngineRequestException"/> for bad input
    /// or a full queue, having allocated nothing.
    /// </summary>
    GenerationStream Submit(GenerationRequest request);

    /// <summary>Aborts a request at any point; its blocks are freed before the next step. False if unknown or finished.</summary>
    bool Abort(string requestId);

    /// <summary>Queue, running and KV numbers now.</summary>
    EngineLoad GetLoad();

    /// <summary>All cached block hashes and the sequence number of the last KV event they reflect.</summary>
    KvCacheSnapshot GetKvSnapshot();

    /// <summary>
    /// Receives KV event batches in sequence order. The handler runs on the engine thread and must not block.
    /// Dispose the result to unsubscribe.
    /// </summary>
    IDisposable SubscribeKvEvents(Action<KvEventBatch> handler);

    /// <summary>
    /// Serializes the cached KV blocks of the longest cached prefix of <paramref name="tokenIds"/> (full blocks only)
    /// into the versioned transfer layout. Null when nothing is cached.
    /// </summary>
    Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Validates a payload made by <see cref="ExportKvAsync"/> (version, model, block size, hash version, shapes) and adds
    /// its blocks to this engine's prefix cache. Returns the number of prompt tokens now cached.
    /// Throws <see cref="InvalidDataException"/> for a malformed or incompatible payload.
    /// </summary>
    Task<int> ImportKvAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Teacher-forced scoring: per position, the log-probability of the next given token and the argmax.</summary>
    Task<ScoreResult> ScoreAsync(IReadOnlyList<int> tokenIds, int topLogprobs = 0, CancellationToken cancellationToken = default);
}

/// <summary>Per-position result of <see cref="IInferenceEngine.ScoreAsync"/>: entry i predicts token i + 1.</summary>
/// <param name="Argmax">Most likely next token after each position.</param>
/// <param name="TargetLogprobs">Log-probability of the actual next token (length n - 1).</param>
/// <param name="Top">Top alternatives at each position, when asked.</param>
public sealed record ScoreResult(IReadOnlyList<int> Argmax, IReadOnlyList<float> TargetLogprobs, IReadOnlyList<IReadOnlyList<TokenLogprob>>? Top);
