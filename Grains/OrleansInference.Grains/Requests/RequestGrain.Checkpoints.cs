using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace OrleansInference.Grains.Requests;

/// <summary>Request checkpoints: writing them off the token path, and resuming a request from one.</summary>
internal sealed partial class RequestGrain
{
    /// <summary>The checkpoint store, or null when the silo has no grain storage for requests.</summary>
    private RequestCheckpointStore? Checkpoints
    {
        get
        {
            if (!_checkpointsResolved)
            {
                _checkpointsResolved = true;
                var storage = _options.RequestCheckpoints
                    ? ServiceProvider.GetKeyedService<IGrainStorage>(RequestCheckpointStore.StorageName)
                    : null;
                _checkpoints = storage is null ? null : new RequestCheckpointStore(storage, ServiceProvider.GetRequiredService<Orleans.Serialization.Serializer>(), this.GetGrainId(), _logger);
            }
            return _checkpoints;
        }
    }

    /// <summary>
    /// Schedules a checkpoint write. Token deliveries pass <paramref name="force"/> = false and are throttled (every
    /// <see cref="Hosting.InferenceOptions.RequestCheckpointTokens"/> tokens or
    /// <see cref="Hosting.InferenceOptions.RequestCheckpointInterval"/>); starts, placements, sample ends and the
    /// request's end always write. The write itself runs in the background.
    /// </summary>
    private void SaveCheckpoint(bool force = true)
    {
        if (_deactivating || _request is null || Checkpoints is not { } store)
        {
            return;
        }
        var now = _time.GetTimestamp();
        if (!force && _tokensSinceCheckpoint < _options.RequestCheckpointTokens
            && _time.GetElapsedTime(_lastCheckpointAt, now) < _options.RequestCheckpointInterval)
        {
            return;
        }
        _tokensSinceCheckpoint = 0;
        _lastCheckpointAt = now;
        store.Save(TakeCheckpoint);
    }

    private RequestCheckpoint TakeCheckpoint()
    {
        var r = _request!;
        return new RequestCheckpoint
        {
            Model = r.Model,
            PromptTokenIds = r.PromptTokenIds,
            BlockHashes = r.BlockHashes,
            Sampling = r.Sampling,
            Priority = r.Priority,
            CacheSalt = r.CacheSalt,
            Delivered = _delivered.Select(d => d.ToArray()).ToArray(),
            Finished = _finishReasons.ToArray(),
            State = _state,
            Migrations = _migrations,
            Error = _error,
            Generation = _generation,
            ActiveJobs = new Dictionary<string, string>(_activeJobs, StringComparer.Ordinal),
            RecoveryTimesMs = _recoveryMs.ToArray(),
        };
    }

    /// <summary>
    /// Continues a request this activation does not know from its checkpoint: samples the caller has completely (and
    /// that ended) are closed, every other sample runs again on a worker from the prompt plus the tokens both the
    /// checkpoint and the caller have. False when there is no checkpoint.
    /// </summary>
    private async Task<bool> TryResumeAsync(InferenceRequest request, IReadOnlyList<int> received)
    {
        if (Checkpoints is not { } store)
        {
            return false;
        }
        RequestCheckpoint? cp;
        try
        {
            cp = await store.ReadAsync();
        }
        catch (Exception ex)
        {
            Log.CheckpointReadFailed(_logger, ex, RequestId);
            return false;
        }
        if (cp is null)
        {
            return false;
        }
        if (!string.Equals(request.Model, cp.Model, StringComparison.Ordinal))
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest,
                $"Request id '{RequestId}' is already used by a request for model '{cp.Model}'.", "model");
        }
        var now = _time.GetTimestamp();
        _startedAt = now;
        _request = cp.ToPrepared(RequestId);
        _generation = cp.Generation + 1;
        _migrations = cp.Migrations;
        _error = cp.Error;
        _recoveryMs.AddRange(cp.RecoveryTimesMs);
        var n = cp.Delivered.Length;
        InitSamples(n);
        _log = new ChunkLog();
        var terminal = cp.State is RequestState.Cancelled or RequestState.Failed;
        var closing = new List<TokenChunk>();
        var rerun = new List<JobSpec>();
        for (var i = 0; i < n; i++)
        {
            var known = cp.Delivered[i];
            var have = i < received.Count ? Math.Max(0, received[i]) : 0;
            var reason = i < cp.Finished.Length ? cp.Finished[i] : null;
            var complete = reason is not null && (have >= known.Length || reason is InferenceFinishReason.Cancelled or InferenceFinishReason.Error);
            if (complete || terminal)
            {
                // Nothing to generate: the caller has it all, or the request was stopped (its rest is not produced).
                var count = reason is InferenceFinishReason.Stop or InferenceFinishReason.Length ? known.Length : Math.Min(have, known.Length);
                _delivered[i].AddRange(known.Take(count));
                var finish = reason ?? (cp.State == RequestState.Cancelled ? InferenceFinishReason.Cancelled : InferenceFinishReason.Error);
                closing.Add(new TokenChunk { RequestId = RequestId, Index = i, Offset = count, FinishReason = finish, Error = finish == InferenceFinishReason.Error ? cp.Error : null });
                continue;
            }
            _delivered[i].AddRange(known.Take(Math.Min(have, known.Length)));
            _recoveringSince[i] = now;
            rerun.Add(new JobSpec(JobId(i), i, 1, _delivered[i].ToArray()));
        }
        Log.Resumed(_logger, RequestId, _generation, string.Join(",", cp.Delivered.Select(d => d.Length)), string.Join(",", received));
        _state = rerun.Count > 0 ? RequestState.Queued : terminal ? cp.State : RequestState.Finished;
        foreach (var chunk in closing)
        {
            Deliver(chunk);
        }
        AbortStaleJobs(cp.ActiveJobs);
        SaveCheckpoint();
        if (rerun.Count > 0)
        {
            _ = ExecuteAsync(rerun);
        }
        else
        {
            _log.Complete();
            ScheduleExpiry(_options.FinishedRequestTtl);
        }
        return true;
    }

    /// <summary>
    /// Jobs of the dead activation may still run on live workers (an abandoned stream is only cleaned up by a timer):
    /// abort them so their KV blocks are freed now, and release them in the conductor. Best effort, not awaited.
    /// </summary>
    private void AbortStaleJobs(IReadOnlyDictionary<string, string> jobs)
    {
        foreach (var (jobId, workerId) in jobs)
        {
            _ = AbortStaleJobAsync(jobId, workerId);
        }
    }

    private async Task AbortStaleJobAsync(string jobId, string workerId)
    {
        try
        {
            await GrainFactory.GetGrain<IWorkerGrain>(workerId).AbortAsync(jobId).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex)
        {
            Log.AbortFailed(_logger, ex, RequestId);
        }
        await CompleteJobAsync(workerId, jobId, noted: null);
    }
}
