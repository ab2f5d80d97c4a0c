using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Requests;

/// <summary>Running a request: placement, the worker's stream, failover.</summary>
internal sealed partial class RequestGrain
{
    /// <summary>One worker job: samples FirstSample..FirstSample+Samples-1, resuming after <see cref="Resume"/>.</summary>
    private sealed record JobSpec(string JobId, int FirstSample, int Samples, IReadOnlyList<int> Resume);

    private IConductorGrain Conductor => GrainFactory.GetGrain<IConductorGrain>(_request!.Model);

    /// <summary>A worker job id unique across migrations and activations (the engine refuses duplicates).</summary>
    private string JobId(int sample) => _generation == 0
        ? $"{RequestId}/{sample}/m{_migrations}"
        : $"{RequestId}/{sample}/g{_generation}m{_migrations}";

    private async Task ExecuteAsync(IReadOnlyList<JobSpec> jobs)
    {
        var ct = _cancel.Token;
        try
        {
            await Task.WhenAll(jobs.Select(j => RunJobAsync(j, [], ct)));
            if (_finishedCount == _finished.Length)
            {
                _state = EndedState();
            }
            else if (ct.IsCancellationRequested)
            {
                EndSamples(InferenceFinishReason.Cancelled, null, RequestState.Cancelled);
            }
            else
            {
                EndSamples(InferenceFinishReason.Error, "The worker's stream ended before the sample finished.", RequestState.Failed);
            }
            _log!.Complete();
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            EndSamples(InferenceFinishReason.Cancelled, null, RequestState.Cancelled);
            _log!.Complete();
        }
        catch (Exception ex)
        {
            Log.Failed(_logger, ex, RequestId);
            // Our own errors are written for users; anything else is logged above and named only by its kind (runtime
            // messages can carry addresses and stack traces).
            var failure = ex as InferenceException ?? new InferenceException(
                MigrationPolicy.IsWorkerGone(ex) ? InferenceErrorCode.Unavailable : InferenceErrorCode.Internal,
                $"The request failed inside the cluster ({ex.GetType().Name}); see the silo log for request '{RequestId}'.");
            _error = failure.Message;
            if (_delivered.All(d => d.Count == 0) && _finishedCount == 0)
            {
                // Nothing reached the caller: fail the call itself so it maps to a status code.
                _state = RequestState.Failed;
                _log!.Complete(failure);
            }
            else
            {
                EndSamples(InferenceFinishReason.Error, failure.Message, RequestState.Failed);
                _log!.Complete();
            }
        }
        Log.Ended(_logger, RequestId, _state.ToString());
        SaveCheckpoint();
        ScheduleExpiry(_options.FinishedRequestTtl);
    }

    /// <summary>
    /// Closes unfinished samples with <paramref name="reason"/>; the request ends in <paramref name="stateIfAnyOpen"/>
    /// if there were any, else Finished.
    /// </summary>
    private void EndSamples(InferenceFinishReason reason, string? error, RequestState stateIfAnyOpen)
    {
        var any = false;
        for (var i = 0; i < _finished.Length; i++)
        {
            if (!_finished[i])
            {
                any = true;
                Deliver(new TokenChunk { RequestId = RequestId, Index = i, Offset = _delivered[i].Count, FinishReason = reason, Error = error, WorkerId = _workerId });
            }
        }
        _state = any ? stateIfAnyOpen : EndedState();
    }

    /// <summary>
    /// The state of a request whose samples have all ended: Cancelled when a cancel cut any of them short, else
    /// Finished. A cancel can reach the end both ways: the worker call stops (then the samples are closed here), or the
    /// aborted worker's last chunk, already on its way, arrives first and closes them with reason Cancelled; counting
    /// closed samples alone called the second way Finished (one CI run saw an SDK-cancelled request end as Finished, which
    /// fits this order: the local job stream still drains updates already buffered when its token is cancelled).
    /// </summary>
    private RequestState EndedState() =>
        _finishReasons.Contains(InferenceFinishReason.Cancelled) ? RequestState.Cancelled : RequestState.Finished;

    // A conductor reactivated after its silo died knows no workers until they re-register with their next load
    // report: wait that long for one instead of failing the request. A call lost with the conductor's silo is retried.
    /// <summary>How long placement keeps retrying a conductor whose silo is gone (with backoff from 100 ms to 1 s).</summary>
    private static readonly TimeSpan ConductorLossWindow = TimeSpan.FromSeconds(4);

    private async Task<PlacementDecision> PlaceAsync(PlacementRequest placement, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + _options.PlacementWaitForWorkers;
        DateTime? conductorLostUntil = null;
        var pause = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await Conductor.PlaceAsync(placement);
            }
            catch (InferenceException e) when (e.Code == InferenceErrorCode.Unavailable && DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), ct);
            }
            catch (Exception e) when (MigrationPolicy.IsWorkerGone(e) && !ct.IsCancellationRequested
                && DateTime.UtcNow < (conductorLostUntil ??= DateTime.UtcNow + ConductorLossWindow))
            {
                // The conductor's silo died (or was cut off) under the call. Until membership declares that silo dead,
                // calls keep failing fast; then the conductor reactivates on a live silo, which waits for workers to
                // re-register, so the wait starts again. (Five quick retries ran out before a killed silo was declared
                // dead on a loaded machine, 1.3 s; a much longer wait outlasts callers' idle timeouts, which then give
                // up on a request that is only waiting, where a failure would have let them retry it.)
                deadline = DateTime.UtcNow + _options.PlacementWaitForWorkers;
                await Task.Delay(pause, ct);
                pause = TimeSpan.FromMilliseconds(Math.Min(1000, pause.TotalMilliseconds * 2));
            }
        }
    }

    private async Task RunJobAsync(JobSpec spec, IReadOnlyList<string> excluded, CancellationToken ct)
    {
        var request = _request!;
        var (decision, noted) = await PlaceJobAsync(new PlacementRequest
        {
            RequestId = spec.JobId,
            PromptTokens = request.PromptTokenIds.Length + spec.Resume.Count,
            BlockHashes = request.BlockHashes,
            ExcludeWorkers = excluded,
        }, ct);
        _workerId = decision.WorkerId;
        if (_state == RequestState.Queued) _state = RequestState.Prefilling;
        var job = new WorkerJob
        {
            RequestId = spec.JobId,
            PromptTokenIds = request.PromptTokenIds,
            Sampling = request.Sampling with { N = spec.Samples },
            Priority = request.Priority,
            ResumeOutputTokenIds = spec.Resume,
            FirstSampleIndex = spec.FirstSample,
            CacheSalt = request.CacheSalt,
        };
        Exception? failure = null;
        _activeJobs[spec.JobId] = decision.WorkerId;
        try
        {
            // Cancelled while being placed: the conductor counted the job, the finally below releases it.
            ct.ThrowIfCancellationRequested();
            SaveCheckpoint();
            await foreach (var chunk in OpenWorkerStream(decision.WorkerId, job, ct))
            {
                if (chunk.FinishReason == InferenceFinishReason.Cancelled && !ct.IsCancellationRequested)
                {
                    // Nobody here cancelled it: the worker's engine stopped (its silo is shutting down).
                    Deliver(chunk with { FinishReason = null, Usage = null });
                    throw new InferenceException(InferenceErrorCode.Unavailable, $"Worker {decision.WorkerId} stopped job {spec.JobId} (its engine shut down).");
                }
                Deliver(chunk);
            }
            if (!ct.IsCancellationRequested && AnyOpen(spec))
            {
                throw new InferenceException(InferenceErrorCode.Unavailable, $"Worker {decision.WorkerId}'s stream of job {spec.JobId} ended before its samples finished.");
            }
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && MigrationPolicy.IsWorkerGone(ex))
        {
            failure = ex;
        }
        finally
        {
            _activeJobs.Remove(spec.JobId);
            // Awaited so the conductor's in-flight count is right before this request's caller sees the end.
            await CompleteJobAsync(decision.WorkerId, spec.JobId, noted);
        }
        if (failure is null)
        {
            return;
        }
        if (!_migration.CanMigrate(_migrations))
        {
            throw new InferenceException(InferenceErrorCode.Unavailable,
                $"Request {RequestId}: worker {decision.WorkerId} failed and the request has already moved {_migrations} time(s), the limit (Inference:MaxMigrations = {_migration.MaxMigrations}); giving up. Cause: {failure.Message}");
        }

        _migrations++;
        _metrics.CountMigration(request.Model);
        Log.Migrating(_logger, failure, RequestId, decision.WorkerId, _migrations);
        var detected = _time.GetTimestamp();
        var stillExcluded = excluded.Append(decision.WorkerId).ToArray();
        var resumed = new List<Task>();
        for (var i = spec.FirstSample; i < spec.FirstSample + spec.Samples; i++)
        {
            if (!_finished[i])
            {
                _recoveringSince[i] = detected;
                resumed.Add(RunJobAsync(new JobSpec(JobId(i), i, 1, _delivered[i].ToArray()), stillExcluded, ct));
            }
        }
        await Task.WhenAll(resumed);
    }

    private bool AnyOpen(JobSpec spec)
    {
        for (var i = spec.FirstSample; i < spec.FirstSample + spec.Samples; i++)
        {
            if (!_finished[i]) return true;
        }
        return false;
    }

    private async Task CompleteJobAsync(string workerId, string jobId, Task? noted)
    {
        try
        {
            if (noted is not null)
            {
                // The placement must be recorded before its completion, or the in-flight count would never drop.
                await noted;
            }
            await Conductor.CompleteAsync(workerId, jobId);
        }
        catch (Exception ex)
        {
            // Only in-flight accounting suffers; the conductor expires stale entries.
            Log.AbortFailed(_logger, ex, RequestId);
        }
    }

    /// <summary>Records a chunk from a worker (dropping tokens already delivered) and hands it to the readers.</summary>
    private void Deliver(TokenChunk chunk)
    {
        var i = chunk.Index;
        if (i < 0 || i >= _delivered.Length || _finished[i])
        {
            return;
        }
        if (ChunkLog.Skip(chunk, _delivered[i].Count) is not { } fresh)
        {
            return;
        }
        var now = _time.GetTimestamp();
        if (fresh.TokenIds.Count > 0)
        {
            if (_ttftMs < 0)
            {
                var ttft = _time.GetElapsedTime(_startedAt, now);
                _ttftMs = ttft.TotalMilliseconds;
                _metrics.RecordTimeToFirstToken(_request!.Model, ttft);
                _state = RequestState.Decoding;
            }
            else if (_lastTokenAt[i] != 0)
            {
                _metrics.RecordInterTokenLatency(_request!.Model, _time.GetElapsedTime(_lastTokenAt[i], now).TotalSeconds / fresh.TokenIds.Count);
            }
            _lastTokenAt[i] = now;
            _delivered[i].AddRange(fresh.TokenIds);
            _tokensSinceCheckpoint += fresh.TokenIds.Count;
            if (_recoveringSince[i] != 0)
            {
                var recovery = _time.GetElapsedTime(_recoveringSince[i], now);
                _recoveringSince[i] = 0;
                _recoveryMs.Add(recovery.TotalMilliseconds);
                _metrics.RecordRecoveryTime(_request!.Model, recovery);
            }
        }
        if (chunk.Usage is { } workerUsage && _cachedPromptTokens < 0)
        {
            _cachedPromptTokens = workerUsage.CachedPromptTokens;
        }
        UsageInfo? usage = null;
        if (fresh.FinishReason is not null)
        {
            _finished[i] = true;
            _finishReasons[i] = fresh.FinishReason;
            if (++_finishedCount == _finished.Length)
            {
                usage = new UsageInfo(_request!.PromptTokenIds.Length, _delivered.Sum(d => d.Count), Math.Max(0, _cachedPromptTokens),
                    Math.Max(0, _ttftMs), _migrations);
            }
        }
        _log!.Append(fresh with { RequestId = RequestId, Usage = usage });
        SaveCheckpoint(force: fresh.FinishReason is not null);
    }
}
