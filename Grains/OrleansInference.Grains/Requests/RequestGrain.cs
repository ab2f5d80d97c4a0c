using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Placement;
using OrleansInference.Grains.Hosting;
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
    private long[] _lastTokenAt = [];
    private int _finishedCount;
    private string? _workerId;
    private int _migrations;
    private string? _error;
    private int _subscribers;
    private long _startedAt;
    private double _ttftMs = -1;
    private int _cachedPromptTokens = -1;
    private IGrainTimer? _expiry;

    public RequestGrain(EngineHost host, IOptions<InferenceOptions> options, InferenceMetrics metrics, ILogger<RequestGrain> logger, TimeProvider? time = null)
    {
        _host = host;
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
            await StartAsync(request);
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
                _ = CancelUnlessReattachedAsync(me);
            }
        }
    }

    private async Task StartAsync(InferenceRequest request)
    {
        _startedAt = _time.GetTimestamp();
        var engine = _host.FindEngine(request.Model);
        try
        {
            if (engine is null)
            {
                await ThrowModelNotHereAsync(request.Model);
            }
            _request = RequestValidator.Prepare(RequestId, request, engine!, () => (ulong)Random.Shared.NextInt64());
        }
        catch (InferenceException ex)
        {
            _state = RequestState.Failed;
            _error = ex.Message;
            Log.Refused(_logger, RequestId, ex.Code.ToString(), ex.Message);
            DeactivateOnIdle();
            throw;
        }
        var n = _request.Sampling.N;
        _delivered = Enumerable.Range(0, n).Select(_ => new List<int>()).ToArray();
        _finished = new bool[n];
        _lastTokenAt = new long[n];
        _log = new ChunkLog();
        _state = RequestState.Queued;
        _ = ExecuteAsync();
    }

    private async Task ThrowModelNotHereAsync(string model)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, "model is required.", "model");
        }
        var workers = await GrainFactory.GetGrain<IConductorGrain>(model).GetWorkersAsync();
        if (workers.Count == 0)
        {
            throw new InferenceException(InferenceErrorCode.ModelNotFound, $"The model '{model}' does not exist.", "model");
        }
        throw new InferenceException(InferenceErrorCode.Unavailable,
            $"The model '{model}' is not hosted on the silo that received this request; send it to a silo that serves it.", "model");
    }

    public async Task CancelAsync() => await CancelRunAsync("cancelled");

    private async Task CancelUnlessReattachedAsync(int subscriber)
    {
        if (_options.ReattachGrace > TimeSpan.Zero)
        {
            await Task.Delay(_options.ReattachGrace, _time);
        }
        if (subscriber == _subscribers)
        {
            await CancelRunAsync("the caller stopped reading and none re-attached");
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
        Task.FromResult(new RequestStatus(_state, _delivered.Select(d => d.Count).ToArray(), _workerId, _migrations, _error));

    private void ScheduleExpiry(TimeSpan after)
    {
        _expiry?.Dispose();
        _expiry = this.RegisterGrainTimer(_ =>
        {
            DeactivateOnIdle();
            return Task.CompletedTask;
        }, after, Timeout.InfiniteTimeSpan);
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} refused ({Code}): {Reason}")]
        public static partial void Refused(ILogger logger, string requestId, string code, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} re-attached (received {Received})")]
        public static partial void Reattached(ILogger logger, string requestId, string received);

        [LoggerMessage(Level = LogLevel.Information, Message = "Request {RequestId} cancelled: {Reason}")]
        public static partial void Cancelling(ILogger logger, string requestId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: aborting its worker job failed")]
        public static partial void AbortFailed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId}: worker {WorkerId} failed; moving to another worker (migration {Migration})")]
        public static partial void Migrating(ILogger logger, Exception ex, string requestId, string workerId, int migration);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Request {RequestId} failed")]
        public static partial void Failed(ILogger logger, Exception ex, string requestId);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Request {RequestId} ended {State}")]
        public static partial void Ended(ILogger logger, string requestId, string state);
    }
}
