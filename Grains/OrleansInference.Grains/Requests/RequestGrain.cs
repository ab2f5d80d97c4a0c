using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Storage;
using OrleansInference.Grains.Hosting;
using OrleansInference.Grains.Models;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Requests;

/// <summary>
/// One per request id. The first <see cref="GenerateAsync"/> validates and tokenizes the request (with the tokenizer
/// of an engine on this silo), then runs it in the background: placement by the conductor, the worker's stream, and
/// re-placement when the worker dies. Everything produced goes into a <see cref="ChunkLog"/> that every caller reads
/// from its own offsets, so a caller that lost its connection re-attaches with the same id and gets exactly what it
/// lacks, then the live rest. Reentrant so status, cancel and re-attach calls never wait behind a stream.
/// Placed on the calling silo (the gateway or the HTTP front end), which normally hosts the model.
/// </summary>
[Reentrant]
[PreferLocalPlacement]
internal sealed partial class RequestGrain : Grain, IRequestGrain
{
    private readonly EngineHost _host;
    private readonly ClusterModelDirectory _models;
    private readonly InferenceOptions _options;
    private readonly InferenceMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly MigrationPolicy _migration;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Dictionary<string, string> _activeJobs = new(StringComparer.Ordinal);
    private PreparedRequest? _request;
    private ChunkLog? _log;
    private RequestState _state = RequestState.New;
    private List<int>[] _delivered = [];
    private bool[] _finished = [];
    private InferenceFinishReason?[] _finishReasons = [];
    private long[] _lastTokenAt = [];
    private long[] _recoveringSince = [];
    private readonly List<double> _recoveryMs = [];
    private Task? _init;
    private RequestCheckpointStore? _checkpoints;
    private bool _checkpointsResolved;
    private int _generation;
    private int _tokensSinceCheckpoint;
    private long _lastCheckpointAt;
    private bool _deactivating;
    private int _finishedCount;
    private string? _workerId;
    private int _migrations;
    private string? _error;
    private int _subscribers;
    private long _startedAt;
    private double _ttftMs = -1;
    private int _cachedPromptTokens = -1;
    private IGrainTimer? _expiry;

    public RequestGrain(EngineHost host, ClusterModelDirectory models, IOptions<InferenceOptions> options, InferenceMetrics metrics,
        ILogger<RequestGrain> logger, TimeProvider? time = null)
    {
        _host = host;
        _models = models;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _migration = new MigrationPolicy(_options.MaxMigrations);
    }

    private string RequestId => this.GetPrimaryKeyString();

    public async IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_log is null)
        {
            // Concurrent first calls (reentrant grain) share one start or resume; preparing may await (a silo without
            // the model asks a worker elsewhere), so a second caller meanwhile waits for the same start.
            await (_init ??= InitializeAsync(request, receivedTokens));
        }
        else if (!string.Equals(request.Model, _request!.Model, StringComparison.Ordinal))
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest,
                $"Request id '{RequestId}' is already used by a request for model '{_request.Model}'.", "model");
        }
        else
        {
            Log.Reattached(_logger, RequestId, receivedTokens is null ? "none" : string.Join(",", receivedTokens));
        }

        var me = ++_subscribers;
        var completed = false;
        try
        {
            await foreach (var chunk in _log!.ReadAsync(receivedTokens, cancellationToken))
            {
                yield return chunk;
            }
            completed = true;
        }
        finally
        {
            // The latest caller owns the request: when it stops reading (cancels, or its enumerator is disposed, which
            // Orleans also reports as cancellation) the request ends, unless a caller re-attaches within the grace (a
            // dropped connection being resumed). An earlier caller superseded by a re-attach leaves it running.
            if (!completed && !_log!.IsCompleted && me == _subscribers)
            {
                _ = CancelIfNotReattachedAsync(me);
            }
        }
    }

    private async Task InitializeAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens)
    {
        // Only a caller that already received output can be resuming a request whose grain died: a brand-new request
        // never waits for storage.
        if (receivedTokens is not null && await TryResumeAsync(request, receivedTokens))
        {
            return;
        }
        if (receivedTokens is not null && receivedTokens.Any(c => c > 0) && request.Sampling is { Seed: null, Temperature: > 0 })
        {
            _state = RequestState.Failed;
            _error = $"Request '{RequestId}' is not known to the cluster any more (no checkpoint) and has no seed, so the rest of its output cannot be reproduced; send it again as a new request.";
            DeactivateOnIdle();
            throw new InferenceException(InferenceErrorCode.Unavailable, _error);
        }
        await StartAsync(request);
    }

    private async Task StartAsync(InferenceRequest request)
    {
        _startedAt = _time.GetTimestamp();
        var engine = _host.FindEngine(request.Model);
        try
        {
            _request = engine is not null
                ? RequestValidator.Prepare(RequestId, request, engine, () => (ulong)Random.Shared.NextInt64())
                : await PrepareElsewhereAsync(request);
        }
        catch (InferenceException ex)
        {
            _state = RequestState.Failed;
            _error = ex.Message;
            Log.Refused(_logger, RequestId, ex.Code.ToString(), ex.Message);
            DeactivateOnIdle();
            throw;
        }
        InitSamples(_request.Sampling.N);
        _log = new ChunkLog();
        _state = RequestState.Queued;
        SaveCheckpoint();
        _ = ExecuteAsync([new JobSpec(_request.RequestId, 0, _request.Sampling.N, [])]);
    }

    private void InitSamples(int n)
    {
        _delivered = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        _finished = new bool[n];
        _finishReasons = new InferenceFinishReason?[n];
        _lastTokenAt = new long[n];
        _recoveringSince = new long[n];
    }

    public async Task CancelAsync() => await CancelRunAsync("cancelled");

    /// <summary>
    /// The latest caller stopped reading without cancelling the request: keep it for
    /// <see cref="InferenceOptions.DetachedRequestGrace"/> so that caller can re-attach, then cancel it.
    /// </summary>
    private async Task CancelIfNotReattachedAsync(int subscriber)
    {
        var grace = _options.DetachedRequestGrace;
        if (grace > TimeSpan.Zero)
        {
            await Task.Delay(grace, _time);
        }
        if (subscriber == _subscribers)
        {
            await CancelRunAsync("the caller stopped reading and did not re-attach");
        }
    }

    private async Task CancelRunAsync(string reason)
    {
        if (_log is null || _log.IsCompleted || _cancel.IsCancellationRequested)
        {
            return;
        }
        Log.Cancelling(_logger, RequestId, reason);
        _cancel.Cancel();
        // Cancelling the worker call propagates too; aborting explicitly frees the blocks without waiting for that.
        var aborts = _activeJobs.Select(j => GrainFactory.GetGrain<IWorkerGrain>(j.Value).AbortAsync(j.Key)).ToList();
        try
        {
            await Task.WhenAll(aborts);
        }
        catch (Exception ex)
        {
            Log.AbortFailed(_logger, ex, RequestId);
        }
    }

    public Task<RequestStatus> GetStatusAsync() =>
        Task.FromResult(new RequestStatus(_state, _delivered.Select(d => d.Count).ToArray(), _workerId, _migrations, _error)
        {
            RecoveryTimesMs = _recoveryMs.ToArray(),
            Resumes = _generation,
            FinishReasons = _finishReasons.ToArray(),
        });

    private void ScheduleExpiry(TimeSpan after)
    {
        _expiry?.Dispose();
        _expiry = this.RegisterGrainTimer(async _ =>
        {
            // The output is no longer kept, so neither is the checkpoint (Redis would otherwise keep it forever).
            if (Checkpoints is { } store)
            {
                await store.ClearAsync();
            }
            DeactivateOnIdle();
        }, after, Timeout.InfiniteTimeSpan);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_log is { IsCompleted: false } && Checkpoints is { } store)
        {
            // The silo is shutting down (or the grain is being moved) mid-request: leave the newest checkpoint for the
            // activation a re-attaching caller will create, and stop writing terminal states the caller never chose.
            SaveCheckpoint(force: true);
            _deactivating = true;
            try
            {
                await store.FlushAsync().WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} refused ({Code}): {Reason}")]
        public static partial void Refused(ILogger logger, string requestId, string code, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} re-attached (received {Received})")]
        public static partial void Reattached(ILogger logger, string requestId, string received);

        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} cancelled: {Reason}")]
        public static partial void Cancelling(ILogger logger, string requestId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: the conductor could not record its placement")]
        public static partial void NoteFailed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: aborting its worker job failed")]
        public static partial void AbortFailed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: worker {WorkerId} failed; moving to another worker (migration {Migration})")]
        public static partial void Migrating(ILogger logger, Exception ex, string requestId, string workerId, int migration);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} failed")]
        public static partial void Failed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} resumed from its checkpoint (generation {Generation}, delivered {Delivered}, received {Received})")]
        public static partial void Resumed(ILogger logger, string requestId, int generation, string delivered, string received);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: reading its checkpoint failed; starting it as new")]
        public static partial void CheckpointReadFailed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} ended {State}")]
        public static partial void Ended(ILogger logger, string requestId, string state);
    }
}
