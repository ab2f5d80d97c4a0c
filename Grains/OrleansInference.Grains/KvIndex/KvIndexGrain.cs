using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Grains.KvIndex;

/// <summary>
/// One shard of the cluster-wide index: for each block hash of this shard, the workers holding it, plus, per
/// worker, the last engine KV event sequence number applied. A batch that does not continue that number (a gap), or
/// any batch from a worker not known here (e.g. after this shard was reactivated), makes the shard pull the worker's snapshot itself
/// (<see cref="IWorkerGrain.GetKvSnapshotAsync"/>) and reset that worker's entries; a worker that cannot be reached
/// is dropped. State is soft: it is rebuilt the same way after a reactivation.
/// Reentrant so lookups never wait behind a resynchronisation; each worker sends a shard one batch at a time, and the
/// state changes between awaits are synchronous.
/// </summary>
[Reentrant]
internal sealed partial class KvIndexGrain(IOptions<InferenceOptions> options, ILogger<KvIndexGrain> logger) : Grain, IKvIndexGrain
{
    private readonly Dictionary<ulong, List<string>> _holders = [];
    private readonly Dictionary<string, WorkerEntries> _workers = new(StringComparer.Ordinal);
    private static readonly TimeSpan SnapshotTimeout = TimeSpan.FromSeconds(5);
    private readonly HashSet<string> _syncing = new(StringComparer.Ordinal);
    private string _model = "";
    private int _shard;
    private int _shards;

    private sealed class WorkerEntries
    {
        public long LastSequence;
        public readonly HashSet<ulong> Hashes = [];
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_model, _shard) = KvShards.Parse(this.GetPrimaryKeyString());
        _shards = Math.Max(1, options.Value.KvIndexShards);
        // State is soft: a new activation (first use, or after its silo died) rebuilds from the live workers' snapshots
        // in the background, so the call that activated it (often a placement lookup) does not wait.
        _ = RebuildAsync();
        return Task.CompletedTask;
    }

    private async Task RebuildAsync()
    {
        IReadOnlyList<WorkerInfo> workers;
        try
        {
            workers = await GrainFactory.GetGrain<IConductorGrain>(_model).GetWorkersAsync().WaitAsync(SnapshotTimeout);
        }
        catch (Exception ex)
        {
            Log.RebuildFailed(logger, ex, _shard);
            return;
        }
        await Task.WhenAll(workers.Select(w => SyncWorkerAsync(w.Registration.WorkerId)));
    }

    public async Task SyncWorkerAsync(string workerId)
    {
        if (_workers.ContainsKey(workerId) || !_syncing.Add(workerId))
        {
            return;
        }
        try
        {
            KvSnapshotDto snapshot;
            try
            {
                snapshot = await GrainFactory.GetGrain<IWorkerGrain>(workerId).GetKvSnapshotAsync().WaitAsync(SnapshotTimeout);
            }
            catch (Exception ex)
            {
                Log.ResyncFailed(logger, ex, _shard, workerId);
                return;
            }
            // Events that arrived meanwhile started from a snapshot of their own, at least as new as this one.
            if (!_workers.ContainsKey(workerId))
            {
                Reset(workerId, snapshot.BlockHashes).LastSequence = snapshot.Sequence;
            }
        }
        finally
        {
            _syncing.Remove(workerId);
        }
    }

    public async Task ApplyAsync(KvEventBatchDto batch)
    {
        _workers.TryGetValue(batch.WorkerId, out var entries);
        var last = entries?.LastSequence ?? 0;
        if (batch.Sequence <= last)
        {
            return; // already covered (by a snapshot, or a repeated send)
        }
        var first = batch.FirstSequence == 0 ? batch.Sequence : batch.FirstSequence;
        // An unknown worker always starts from a snapshot: this shard may have been reactivated, or may have dropped
        // the worker, while its events went on.
        if (entries is null || first > last + 1)
        {
            Log.Gap(logger, _shard, batch.WorkerId, last, first);
            if (!await ResyncAsync(batch.WorkerId))
            {
                return;
            }
            entries = _workers[batch.WorkerId];
            if (batch.Sequence <= entries.LastSequence)
            {
                return;
            }
            // The snapshot may fall inside this batch's range: applying a net delta over it is still exact.
        }
        entries ??= _workers[batch.WorkerId] = new WorkerEntries();
        if (batch.Cleared)
        {
            ClearWorker(batch.WorkerId, entries);
        }
        foreach (var h in batch.Removed)
        {
            if (entries.Hashes.Remove(h)) RemoveHolder(h, batch.WorkerId);
        }
        foreach (var h in batch.Stored)
        {
            if (KvShards.ShardOf(h, _shards) == _shard && entries.Hashes.Add(h)) AddHolder(h, batch.WorkerId);
        }
        entries.LastSequence = batch.Sequence;
    }

    private async Task<bool> ResyncAsync(string workerId)
    {
        KvSnapshotDto snapshot;
        try
        {
            // Bounded: a worker whose silo died but is not yet declared dead would otherwise hold this up for the
            // whole response timeout.
            snapshot = await GrainFactory.GetGrain<IWorkerGrain>(workerId).GetKvSnapshotAsync().WaitAsync(SnapshotTimeout);
        }
        catch (Exception ex)
        {
            Log.ResyncFailed(logger, ex, _shard, workerId);
            DropWorker(workerId);
            return false;
        }
        Reset(workerId, snapshot.BlockHashes).LastSequence = snapshot.Sequence;
        return true;
    }

    public Task ResetWorkerAsync(string workerId, IReadOnlyList<ulong> blockHashes)
    {
        // No sequence comes with this call: the entries are replaced, the sequence number kept.
        Reset(workerId, blockHashes);
        return Task.CompletedTask;
    }

    private WorkerEntries Reset(string workerId, IReadOnlyList<ulong> blockHashes)
    {
        if (!_workers.TryGetValue(workerId, out var entries))
        {
            _workers[workerId] = entries = new WorkerEntries();
        }
        ClearWorker(workerId, entries);
        foreach (var h in blockHashes)
        {
            if (KvShards.ShardOf(h, _shards) == _shard && entries.Hashes.Add(h)) AddHolder(h, workerId);
        }
        return entries;
    }

    public Task RemoveWorkerAsync(string workerId)
    {
        DropWorker(workerId);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<ulong, IReadOnlyList<string>>> LookupAsync(IReadOnlyList<ulong> blockHashes)
    {
        var result = new Dictionary<ulong, IReadOnlyList<string>>();
        foreach (var h in blockHashes)
        {
            if (_holders.TryGetValue(h, out var workers) && workers.Count > 0)
            {
                result[h] = workers.ToArray();
            }
        }
        return Task.FromResult<IReadOnlyDictionary<ulong, IReadOnlyList<string>>>(result);
    }

    private void DropWorker(string workerId)
    {
        if (_workers.Remove(workerId, out var entries))
        {
            ClearWorker(workerId, entries);
        }
    }

    private void ClearWorker(string workerId, WorkerEntries entries)
    {
        foreach (var h in entries.Hashes) RemoveHolder(h, workerId);
        entries.Hashes.Clear();
    }

    private void AddHolder(ulong hash, string workerId)
    {
        if (!_holders.TryGetValue(hash, out var list))
        {
            _holders[hash] = list = new List<string>(1);
        }
        list.Add(workerId);
    }

    private void RemoveHolder(ulong hash, string workerId)
    {
        if (_holders.TryGetValue(hash, out var list) && list.Remove(workerId) && list.Count == 0)
        {
            _holders.Remove(hash);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "KV index shard {Shard} could not list the live workers to rebuild from")]
        public static partial void RebuildFailed(ILogger logger, Exception ex, int shard);

        [LoggerMessage(Level = LogLevel.Information, Message = "KV index shard {Shard}: worker {WorkerId} jumped from sequence {Last} to {First}; resynchronising")]
        public static partial void Gap(ILogger logger, int shard, string workerId, long last, long first);

        [LoggerMessage(Level = LogLevel.Warning, Message = "KV index shard {Shard} could not resynchronise worker {WorkerId}; dropping it")]
        public static partial void ResyncFailed(ILogger logger, Exception ex, int shard, string workerId);
    }
}
