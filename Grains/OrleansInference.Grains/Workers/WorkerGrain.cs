using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansInference.Grains.Placement;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// A thin, addressable front for one engine of the silo its key names. Reentrant: many jobs stream at once, and
/// load/snapshot queries must never wait behind them.
/// </summary>
[SiloPinnedPlacement]
[Reentrant]
internal sealed partial class WorkerGrain(EngineHost host, ILogger<WorkerGrain> logger) : Grain, IWorkerGrain
{
    private HostedWorker _worker = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!host.TryGetWorker(key, out _worker))
        {
            throw new InferenceException(InferenceErrorCode.Unavailable, $"Worker '{key}' is not hosted on this silo (its engine has stopped or never existed).");
        }
        return Task.CompletedTask;
    }

    private IInferenceEngine Engine => _worker.Engine;

    public async IAsyncEnumerable<TokenChunk> RunAsync(WorkerJob job, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stream = await SubmitAsync(job, cancellationToken);
        // No report at submission: the conductor already counts this job in flight, and a report now would compete
        // with the prefill for the CPU. The report after the job (below) and the periodic one keep the load fresh.
        Log.JobStarted(logger, _worker.Id, job.RequestId, job.PromptTokenIds.Count, job.Sampling.N);

        var offsets = new Dictionary<int, int>();
        var samples = Math.Max(1, job.Sampling.N);
        var finished = 0;
        var completion = 0;
        int? cached = null;
        var firstToken = TimeSpan.Zero;
        // Enumerating the engine's stream inside this iterator means that when the caller stops (cancellation, or an
        // abandoned enumerator being disposed), the stream's own finally aborts the request in the engine.
        try
        {
            await foreach (var u in stream.WithCancellation(cancellationToken))
            {
                cached ??= u.CachedPromptTokens;
                if (!offsets.TryGetValue(u.SampleIndex, out var offset))
                {
                    offset = job.ResumeOutputTokenIds.Count;
                }
                offsets[u.SampleIndex] = offset + u.TokenIds.Count;
                completion += u.TokenIds.Count;
                if (firstToken == TimeSpan.Zero && u.TokenIds.Count > 0)
                {
                    firstToken = u.Elapsed;
                }
                UsageInfo? usage = null;
                if (u.FinishReason is not null && ++finished == samples)
                {
                    usage = new UsageInfo(job.PromptTokenIds.Count, completion, cached ?? 0, (u.Timings?.FirstToken ?? firstToken).TotalMilliseconds, 0);
                }
                yield return new TokenChunk
                {
                    RequestId = job.RequestId,
                    Index = u.SampleIndex,
                    Offset = offset,
                    TokenIds = u.TokenIds,
                    Text = u.Text,
                    Logprobs = u.Logprobs is null ? null : ToDto(u.Logprobs),
                    FinishReason = JobMapping.ToFinishReason(u.FinishReason),
                    Error = u.Error,
                    Usage = usage,
                    WorkerId = _worker.Id,
                };
            }
        }
        finally
        {
            _worker.NotifyLoadChanged();
        }
    }

    private List<PositionLogprobsDto> ToDto(IReadOnlyList<PositionLogprobs> logprobs)
    {
        var result = new List<PositionLogprobsDto>(logprobs.Count);
        foreach (var p in logprobs)
        {
            var top = new List<TokenLogprobDto>(p.Top.Count);
            foreach (var t in p.Top) top.Add(ToDto(t));
            result.Add(new PositionLogprobsDto(ToDto(p.Chosen), top));
        }
        return result;
    }

    private TokenLogprobDto ToDto(TokenLogprob t) => new(t.TokenId, t.Logprob, Engine.Tokenizer.Decode([t.TokenId], skipSpecialTokens: false));

    public Task AbortAsync(string requestId)
    {
        if (Engine.Abort(requestId))
        {
            _worker.NotifyLoadChanged();
        }
        return Task.CompletedTask;
    }

    public Task<WorkerLoad> GetLoadAsync() => Task.FromResult(_worker.GetLoad());

    public Task<WorkerRegistration> GetRegistrationAsync() => Task.FromResult(_worker.Registration);

    public Task<KvSnapshotDto> GetKvSnapshotAsync()
    {
        var snapshot = Engine.GetKvSnapshot();
        return Task.FromResult(new KvSnapshotDto(_worker.Id, snapshot.Sequence, snapshot.BlockHashes));
    }

    public Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt) => Engine.ExportKvAsync(tokenIds, cacheSalt);

    public async Task<int> ImportKvAsync(byte[] payload)
    {
        try
        {
            return await Engine.ImportKvAsync(payload);
        }
        catch (InvalidDataException ex)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, ex.Message, "payload");
        }
    }

    // A request grain never reuses a job id while its job runs, so a job already running under this id belongs to an
    // incarnation of the request grain that died with its silo (its abandoned stream would hold the id, and its KV
    // blocks, until Orleans' enumerator timeout): the newest caller takes the id over.
    private async Task<GenerationStream> SubmitAsync(WorkerJob job, CancellationToken cancellationToken)
    {
        var request = JobMapping.ToGenerationRequest(job);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return Engine.Submit(request);
            }
            catch (EngineRequestException ex) when (ex.Kind == EngineErrorKind.DuplicateRequest && attempt < TakeOverAttempts)
            {
                if (attempt == 0)
                {
                    Log.TakingOver(logger, _worker.Id, job.RequestId);
                    Engine.Abort(job.RequestId);
                }
                // The engine drops the aborted id at its next step.
                await Task.Delay(TakeOverPoll, cancellationToken);
            }
            catch (EngineRequestException ex)
            {
                throw new InferenceException(JobMapping.ToErrorCode(ex.Kind), ex.Message, ex.Parameter);
            }
        }
    }

    private const int TakeOverAttempts = 100;
    private static readonly TimeSpan TakeOverPoll = TimeSpan.FromMilliseconds(20);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId}: job {RequestId} is already running for a caller that is gone; aborting it and starting the new one")]
        public static partial void TakingOver(ILogger logger, string workerId, string requestId);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Worker {WorkerId} runs {RequestId} ({PromptTokens} prompt tokens, n={N})")]
        public static partial void JobStarted(ILogger logger, string workerId, string requestId, int promptTokens, int n);
    }
}
