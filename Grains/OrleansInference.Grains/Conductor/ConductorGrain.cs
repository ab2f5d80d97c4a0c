using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Runtime;
using OrleansInference.Grains.Hosting;
using OrleansInference.Grains.KvIndex;
using OrleansInference.Grains.Placement;
using OrleansInference.Native.Kv;

namespace OrleansInference.Grains.Conductor;

/// <summary>
/// One per model: the registry of live workers, their loads and in-flight counts, and the placement decision.
/// All state is soft: after a reactivation the workers re-register on their next load report (this grain answers
/// "unknown worker" to <see cref="ReportLoadAsync"/>), and the KV index is rebuilt by the workers' events.
/// Workers whose silo membership declares dead or shutting down are removed (and dropped from the index).
/// Reentrant: a placement awaits the index; everything it decides happens after that await, without another one.
/// </summary>
[Reentrant]
internal sealed partial class ConductorGrain : Grain, IConductorGrain
{
    private static readonly TimeSpan InFlightExpiry = TimeSpan.FromMinutes(30);
    private readonly IClusterMembershipService _membership;
    private readonly InferenceOptions _options;
    private readonly InferenceMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, WorkerEntry> _workers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, InFlightJob> _inFlight = new(StringComparer.Ordinal);
    private readonly RoutedPrefixTable _routed;
    private readonly CancellationTokenSource _stop = new();
    private IPlacementPolicy _policy;
    private string _model = "";
    private int? _blockSize;
    private long _activatedAt;

    public ConductorGrain(IClusterMembershipService membership, IOptions<InferenceOptions> options, InferenceMetrics metrics,
        ILogger<ConductorGrain> logger, TimeProvider? time = null)
    {
        _membership = membership;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _policy = PlacementPolicies.Create(_options.Policy, _options.CacheAware);
        _routed = new RoutedPrefixTable(_options.CacheAware.RoutedRecordTtl);
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _model = this.GetPrimaryKeyString();
        _activatedAt = _time.GetTimestamp();
        // Runs on this activation's scheduler for as long as it lives.
        _ = WatchMembershipAsync(_stop.Token);
        StartRegistryRefresh();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }

    private async Task WatchMembershipAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var snapshot in _membership.MembershipUpdates.WithCancellation(ct))
            {
                RemoveWorkersOfDeadSilos(snapshot);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex)
        {
            Log.MembershipWatchFailed(_logger, ex, _model);
        }
    }

    private void RemoveWorkersOfDeadSilos(ClusterMembershipSnapshot snapshot)
    {
        List<string>? gone = null;
        foreach (var (id, entry) in _workers)
        {
            var status = snapshot.GetSiloStatus(SiloAddress.FromParsableString(entry.Registration.Silo));
            if (status is SiloStatus.Dead or SiloStatus.ShuttingDown or SiloStatus.Stopping)
            {
                (gone ??= []).Add(id);
                Log.SiloGone(_logger, id, status.ToString());
            }
        }
        foreach (var id in gone ?? [])
        {
            _ = RemoveWorkerAsync(id);
        }
    }

    public Task RegisterWorkerAsync(WorkerRegistration registration)
    {
        if (registration.Model != _model)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest,
                $"Worker '{registration.WorkerId}' serves model '{registration.Model}' but registered with the conductor of '{_model}'.");
        }
        if (registration.HashVersion != BlockHasher.Version)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest,
                $"Worker '{registration.WorkerId}' hashes KV blocks with version {registration.HashVersion}; this conductor uses version {BlockHasher.Version}. Upgrade the silos to the same build.");
        }
        if (registration.BlockSize <= 0)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, $"Worker '{registration.WorkerId}' has block size {registration.BlockSize}.");
        }
        if (_workers.Count == 0)
        {
            _blockSize = null;
        }
        if (_blockSize is { } bs && bs != registration.BlockSize)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest,
                $"Worker '{registration.WorkerId}' uses KV blocks of {registration.BlockSize} tokens, but the workers of '{_model}' already registered use {bs}; block hashes would never match. Configure the same Engine:BlockSize on every silo.");
        }
        _blockSize = registration.BlockSize;
        if (_workers.TryGetValue(registration.WorkerId, out var entry))
        {
            entry.Registration = registration;
        }
        else
        {
            _workers[registration.WorkerId] = new WorkerEntry(registration);
            Log.WorkerRegistered(_logger, registration.WorkerId, _model, registration.Device, registration.Role.ToString());
            _ = SyncIndexAsync(registration.WorkerId);
            NoteModelCard(registration);
            _ = PublishWorkersAsync();
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// A worker new to this activation (first start, or re-registering after this conductor or the index lost its
    /// state): make every index shard that does not know it pull its snapshot, so idle workers' caches are indexed too.
    /// </summary>
    private async Task SyncIndexAsync(string workerId)
    {
        var shards = Math.Max(1, _options.KvIndexShards);
        try
        {
            await Task.WhenAll(Enumerable.Range(0, shards).Select(s => GrainFactory.GetGrain<IKvIndexGrain>(KvShards.Key(_model, s)).SyncWorkerAsync(workerId)));
        }
        catch (Exception ex)
        {
            Log.IndexSyncFailed(_logger, ex, workerId);
        }
    }

    public Task UnregisterWorkerAsync(string workerId) => RemoveWorkerAsync(workerId);

    private async Task RemoveWorkerAsync(string workerId)
    {
        if (!_workers.Remove(workerId))
        {
            return;
        }
        Log.WorkerRemoved(_logger, workerId, _model);
        // Awaited below: a worker leaving with its silo's shutdown is off the registry before the silo is gone.
        var published = PublishWorkersAsync();
        _routed.Remove(workerId);
        foreach (var (job, f) in _inFlight.ToList())
        {
            if (f.WorkerId == workerId) _inFlight.Remove(job);
        }
        var shards = Math.Max(1, _options.KvIndexShards);
        var removals = new List<Task>(shards);
        for (var s = 0; s < shards; s++)
        {
            removals.Add(GrainFactory.GetGrain<IKvIndexGrain>(KvShards.Key(_model, s)).RemoveWorkerAsync(workerId));
        }
        try
        {
            await Task.WhenAll(removals);
        }
        catch (Exception ex)
        {
            Log.IndexRemovalFailed(_logger, ex, workerId);
        }
        await published;
    }

    public Task<LoadReportAck> ReportLoadAsync(WorkerLoad load)
    {
        if (!_workers.TryGetValue(load.WorkerId, out var entry))
        {
            return Task.FromResult(new LoadReportAck(false, false));
        }
        entry.Load = load;
        entry.UnreportedTokens = 0;
        return Task.FromResult(new LoadReportAck(true, IsSoleWorker(entry)));
    }

    private bool IsSoleWorker(WorkerEntry entry)
    {
        // A new activation's registry is still being rebuilt (every live worker re-registers on its next load report):
        // until two report intervals have passed, a worker that registered first must not conclude it is alone.
        if (_time.GetElapsedTime(_activatedAt) < 2 * _options.LoadReportInterval)
        {
            return false;
        }

        foreach (var w in _workers.Values)
        {
            if (!ReferenceEquals(w, entry) && w.Registration.Role == entry.Registration.Role) return false;
        }
        return true;
    }

    public async Task<PlacementDecision> PlaceAsync(PlacementRequest request)
    {
        if (_workers.Count == 0)
        {
            throw new InferenceException(InferenceErrorCode.Unavailable, $"No live worker serves model '{_model}'.");
        }
        var policy = _policy;
        var hashes = request.BlockHashes;
        // With one eligible worker there is nothing to choose: its overlap (from the routed table) is only reported.
        var indexRuns = policy.UsesPrefixOverlap && hashes.Count > 0 && CountEligible(request) > 1
            ? await PrefixOverlap.LeadingRunsAsync(GrainFactory, _model, Math.Max(1, _options.KvIndexShards), hashes)
            : null;

        // From here on no await: the decision and its bookkeeping are atomic with respect to other calls.
        var now = _time.GetTimestamp();
        var nowTicks = _time.GetUtcNow().UtcTicks;
        ExpireInFlight(nowTicks);
        var candidates = new List<PlacementCandidate>(_workers.Count);
        foreach (var (id, w) in _workers)
        {
            if (w.Registration.Role != request.Role)
            {
                continue;
            }
            var cached = 0;
            var prefixes = 0;
            if (policy.UsesPrefixOverlap && hashes.Count > 0)
            {
                var fromIndex = indexRuns is not null && indexRuns.TryGetValue(id, out var r) ? r : 0;
                cached = Math.Max(fromIndex, _routed.LeadingRun(id, hashes, nowTicks));
                prefixes = _routed.RecentPrefixes(id, nowTicks);
            }
            var load = Math.Max(0, w.Load?.PendingPrefillTokens ?? 0) + w.UnreportedTokens
                + (long)_options.CacheAware.DecodeTokenWeight * w.InFlight;
            candidates.Add(new PlacementCandidate(id, cached, w.InFlight, load, w.Placements) { RecentPrefixes = prefixes });
        }
        var blockSize = _blockSize ?? 16;
        var context = new PlacementContext(request.RequestId, request.PromptTokens, blockSize, candidates, request.ExcludeWorkers);
        var choice = policy.Choose(context);

        Record(request, _workers[choice.WorkerId], context.UncachedTokens(choice.CachedBlocks), nowTicks, policy.Name);
        Log.Placed(_logger, request.RequestId, choice.WorkerId, choice.CachedBlocks, choice.Cost, policy.Name, _time.GetElapsedTime(now).TotalMilliseconds);
        return new PlacementDecision(choice.WorkerId, choice.CachedBlocks, policy.Name, choice.Cost);
    }

    public Task<PlacementDecision?> NotePlacedAsync(PlacementRequest request, string workerId)
    {
        if (!_workers.TryGetValue(workerId, out var entry))
        {
            return Task.FromResult<PlacementDecision?>(null);
        }
        var nowTicks = _time.GetUtcNow().UtcTicks;
        ExpireInFlight(nowTicks);
        var cachedBlocks = request.BlockHashes.Count > 0 ? _routed.LeadingRun(workerId, request.BlockHashes, nowTicks) : 0;
        var uncached = Math.Max(0, request.PromptTokens - (long)cachedBlocks * (_blockSize ?? 16));
        Record(request, entry, uncached, nowTicks, _policy.Name);
        Log.Placed(_logger, request.RequestId, workerId, cachedBlocks, uncached, "sole-worker", 0);
        return Task.FromResult<PlacementDecision?>(new PlacementDecision(workerId, cachedBlocks, _policy.Name, uncached));
    }

    /// <summary>The bookkeeping of a placement: in flight, prompt tokens the next report will show, routed prefix.</summary>
    private void Record(PlacementRequest request, WorkerEntry chosen, long uncached, long nowTicks, string policyName)
    {
        var workerId = chosen.Registration.WorkerId;
        Release(request.RequestId, null);
        _inFlight[request.RequestId] = new InFlightJob(workerId, nowTicks, uncached);
        chosen.InFlight++;
        chosen.Placements++;
        chosen.UnreportedTokens += uncached;
        if (request.BlockHashes.Count > 0)
        {
            _routed.Record(workerId, chosen.Registration.TotalBlocks, request.BlockHashes, nowTicks);
        }
        _metrics.CountPlacement(_model, policyName);
    }

    private int CountEligible(PlacementRequest request)
    {
        var count = 0;
        foreach (var (id, w) in _workers)
        {
            if (w.Registration.Role == request.Role && !request.ExcludeWorkers.Contains(id, StringComparer.Ordinal)) count++;
        }
        return count;
    }

    private void ExpireInFlight(long nowTicks)
    {
        // A request grain that died without completing must not keep a worker looking busy forever.
        if (_inFlight.Count == 0) return;
        List<string>? expired = null;
        foreach (var (job, f) in _inFlight)
        {
            if (nowTicks - f.PlacedAt > InFlightExpiry.Ticks) (expired ??= []).Add(job);
        }
        foreach (var job in expired ?? [])
        {
            Release(job, null);
        }
    }

    public Task CompleteAsync(string workerId, string requestId)
    {
        Release(requestId, workerId);
        return Task.CompletedTask;
    }

    private void Release(string jobId, string? workerId)
    {
        if (_inFlight.TryGetValue(jobId, out var f) && (workerId is null || f.WorkerId == workerId))
        {
            _inFlight.Remove(jobId);
            if (_workers.TryGetValue(f.WorkerId, out var w))
            {
                w.InFlight = Math.Max(0, w.InFlight - 1);
                // Whatever of its prompt the last report did not show is done now.
                w.UnreportedTokens = Math.Max(0, w.UnreportedTokens - f.UncachedTokens);
            }
        }
    }

    public Task<IReadOnlyList<WorkerInfo>> GetWorkersAsync()
    {
        var list = _workers.Values
            .OrderBy(w => w.Registration.WorkerId, StringComparer.Ordinal)
            .Select(w => new WorkerInfo(w.Registration, w.Load, w.InFlight, w.Placements))
            .ToList();
        return Task.FromResult<IReadOnlyList<WorkerInfo>>(list);
    }

    public Task SetPolicyAsync(string policy)
    {
        _policy = PlacementPolicies.Create(policy, _options.CacheAware);
        Log.PolicyChanged(_logger, _model, policy);
        return Task.CompletedTask;
    }

    public Task<string> GetPolicyAsync() => Task.FromResult(_policy.Name);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} registered for {Model} ({Device}, {Role})")]
        public static partial void WorkerRegistered(ILogger logger, string workerId, string model, string device, string role);

        [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} removed from {Model}")]
        public static partial void WorkerRemoved(ILogger logger, string workerId, string model);

        [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId}'s silo is {Status}; removing it")]
        public static partial void SiloGone(ILogger logger, string workerId, string status);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not make the KV index learn worker {WorkerId}'s blocks")]
        public static partial void IndexSyncFailed(ILogger logger, Exception ex, string workerId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not drop worker {WorkerId} from the KV index")]
        public static partial void IndexRemovalFailed(ILogger logger, Exception ex, string workerId);

        [LoggerMessage(Level = LogLevel.Error, Message = "Membership watch of the {Model} conductor failed")]
        public static partial void MembershipWatchFailed(ILogger logger, Exception ex, string model);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Placed {RequestId} on {WorkerId} ({CachedBlocks} cached blocks, cost {Cost}, {Policy}) in {Ms} ms")]
        public static partial void Placed(ILogger logger, string requestId, string workerId, int cachedBlocks, double cost, string policy, double ms);

        [LoggerMessage(Level = LogLevel.Information, Message = "Placement policy of {Model} is now {Policy}")]
        public static partial void PolicyChanged(ILogger logger, string model, string policy);
    }
}
