using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Kv;
using OrleansInference.Native.Models;
using OrleansInference.Native.Sampling;
using OrleansInference.Native.Scheduling;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Engine;

/// <summary>
/// One model on one compute backend: a paged KV pool with prefix caching, an iteration-level scheduler and a
/// sampler, driven by a dedicated engine thread that sleeps when there is no work. Every public method is
/// thread-safe; anything that touches the pool or the backend is marshalled onto the engine thread, so it never
/// races a step. Output goes to per-request unbounded channels: the engine never waits for a consumer.
/// </summary>
public sealed partial class InferenceEngine : IInferenceEngine
{
    private readonly IComputeBackend _backend;
    private readonly ITokenSelectingBackend? _selector;
    private readonly EngineOptions _options;
    private readonly ILogger _logger;
    private readonly ITextTokenizer _tokenizer;
    private readonly KvCacheManager _kv;
    private readonly Scheduler _scheduler;
    private readonly KvEventLog _kvEvents;
    private readonly TokenSampler _sampler = new();
    private readonly HashSet<int> _eos;
    private readonly int _vocab;
    private readonly int _maxRunning;
    private readonly ConcurrentQueue<EngineCommand> _commands = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);
    private readonly Lock _lifecycle = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _loopExited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private volatile bool _closed; // no new work accepted (stopping, or the loop failed)
    private bool _disposeStarted;
    private int _queued;
    private int _pendingSubmits;
    private long _arrival;
    private volatile EngineLoad _load;

    /// <summary>
    /// Creates an engine over an existing backend, which it owns from now on (disposed with the engine). The pool
    /// geometry comes from <paramref name="backend"/>'s <see cref="IComputeBackend.Layout"/>.
    /// </summary>
    public InferenceEngine(LoadedModel model, IComputeBackend backend, EngineOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxBatchTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxRunningSequences);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxQueuedRequests);
        _backend = backend;
        _selector = options.SelectTokensOnDevice ? backend as ITokenSelectingBackend : null;
        _options = options;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<InferenceEngine>();
        _tokenizer = model.Tokenizer;
        var layout = backend.Layout;
        _vocab = backend.Model.VocabSize;

        var modelMax = backend.Model.MaxPositionEmbeddings;
        var maxLength = options.MaxModelLength > 0 ? options.MaxModelLength : modelMax;
        if (maxLength > modelMax)
        {
            EngineLog.ModelLengthClamped(_logger, maxLength, modelMax);
            maxLength = modelMax;
        }

        _eos = [.. _tokenizer.EosTokenIds, .. backend.Model.EosTokenIds];
        Info = new EngineInfo
        {
            ModelId = options.ModelId ?? model.Id,
            BlockSize = layout.BlockSize,
            MaxModelLength = maxLength,
            VocabSize = _vocab,
            Device = backend.Name,
            EosTokenIds = [.. _eos.Order()],
        };

        _kv = new KvCacheManager(layout.NumBlocks, layout.BlockSize, options.EnablePrefixCaching);
        // Every running sequence must be able to decode in every step, so there are never more than tokens per step.
        _maxRunning = Math.Min(options.MaxRunningSequences, options.MaxBatchTokens);
        _scheduler = new Scheduler(_kv, new SchedulerLimits(options.MaxBatchTokens, _maxRunning));
        _kvEvents = new KvEventLog(_logger);
        _load = BuildLoad();

        _thread = new Thread(Loop) { IsBackground = true, Name = $"inference-engine:{Info.ModelId}" };
        _thread.Start();
        EngineLog.Started(_logger, Info.ModelId, Info.Device, layout.NumBlocks, layout.BlockSize,
            layout.NumBlocks * (double)layout.BlockBytes / (1 << 20), maxLength);
    }

    /// <summary>
    /// Creates the backend named by <see cref="EngineOptions.Device"/> (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>; CUDA
    /// falls back to the CPU with a warning when unavailable) and an engine over it. With
    /// <see cref="EngineOptions.NumBlocks"/> 0 the pool is sized from <see cref="EngineOptions.KvCacheMemoryMiB"/>.
    /// </summary>
    public static InferenceEngine Create(LoadedModel model, EngineOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var backend = EngineBackendFactory.Create(model, options, loggerFactory ?? NullLoggerFactory.Instance);
        try
        {
            return new InferenceEngine(model, backend, options, loggerFactory);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public EngineInfo Info { get; }

    /// <inheritdoc />
    public ITextTokenizer Tokenizer => _tokenizer;

    /// <summary>The backend this engine drives.</summary>
    public IComputeBackend Backend => _backend;

    /// <inheritdoc />
    public bool Abort(string requestId)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        if (!_active.ContainsKey(requestId))
        {
            return false;
        }
        return Post(new AbortCommand(requestId));
    }

    /// <inheritdoc />
    public EngineLoad GetLoad()
    {
        var load = _load;
        var pending = Volatile.Read(ref _pendingSubmits);
        return pending == 0 ? load : load with { Waiting = load.Waiting + pending };
    }

    /// <inheritdoc />
    public KvCacheSnapshot GetKvSnapshot() => _kvEvents.Snapshot();

    /// <inheritdoc />
    public IDisposable SubscribeKvEvents(Action<KvEventBatch> handler) => _kvEvents.Subscribe(handler);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        lock (_lifecycle)
        {
            if (_disposeStarted)
            {
                return;
            }
            _disposeStarted = true;
            _closed = true;
            _stopping = true;
            _wake.Set();
        }
        await _loopExited.Task.ConfigureAwait(false);

        // The loop has exited: this thread now owns the engine's state.
        var stopped = new EngineRequestException(EngineErrorKind.Unavailable, "The engine stopped.");
        while (_commands.TryDequeue(out var command))
        {
            if (command is SubmitCommand submit)
            {
                Interlocked.Decrement(ref _pendingSubmits);
                _requests[submit.Request.Id] = submit.Request;
                InitializeSamples(submit.Request);
            }
            command.Cancel(stopped);
        }
        var open = _requests.Count;
        foreach (var request in _requests.Values.ToList())
        {
            EndRequest(request, FinishReason.Error, "engine stopped");
        }
        Deliver();
        _backend.Dispose();
        _wake.Dispose();
        EngineLog.Stopped(_logger, open);
    }

    /// <summary>Checks the pool invariant on the engine thread (tests).</summary>
    internal Task<PoolAccounting> CheckPoolAccountingAsync() =>
        Run(() => _kv.CheckAccounting(_requests.Values.SelectMany(r => r.Sequences()).Select(s => s.Blocks).Concat(_transferHolds)), default);

    /// <summary>Hashes the prefix cache holds right now, read on the engine thread (tests).</summary>
    internal Task<ulong[]> CachedHashesAsync() => Run(() => _kv.Cache.Hashes.ToArray(), default);

    private bool Post(EngineCommand command)
    {
        lock (_lifecycle)
        {
            if (_closed)
            {
                return false;
            }
            if (command is SubmitCommand)
            {
                Interlocked.Increment(ref _pendingSubmits);
            }
            _commands.Enqueue(command);
            _wake.Set();
        }
        return true;
    }

    private ulong NewSeed() => unchecked((ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue));
}
