using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// Runs one job on a hosted worker's engine and turns its updates into <see cref="TokenChunk"/>s. Used by the worker
/// grain for callers on other silos, and directly by a request grain whose worker is on its own silo (no grain hop
/// before the first token). Enumerating the engine's stream inside this iterator means that when the caller stops
/// (cancellation, or a disposed enumerator) the stream's own finally aborts the request in the engine.
/// </summary>
internal static partial class JobStream
{
    public static async IAsyncEnumerable<TokenChunk> RunAsync(HostedWorker worker, WorkerJob job, ILogger logger,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var engine = worker.Engine;
        var stream = await SubmitAsync(worker, job, logger, cancellationToken);
        // No report at submission: the conductor already counts this job in flight, and a report now would compete
        // with the prefill for the CPU. The report after the job (below) and the periodic one keep the load fresh.
        Log.JobStarted(logger, worker.Id, job.RequestId, job.PromptTokenIds.Count, job.Sampling.N);

        var offsets = new Dictionary<int, int>();
        var samples = Math.Max(1, job.Sampling.N);
        var finished = 0;
        var completion = 0;
        int? cached = null;
        var firstToken = TimeSpan.Zero;
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
                    Logprobs = u.Logprobs is null ? null : ToDto(engine, u.Logprobs),
                    FinishReason = JobMapping.ToFinishReason(u.FinishReason),
                    Error = u.Error,
                    Usage = usage,
                    WorkerId = worker.Id,
                };
            }
        }
        finally
        {
            worker.NotifyLoadChanged();
        }
    }

    // A request grain never reuses a job id while its job runs, so a job already running under this id belongs to an
    // incarnation of the request grain that died with its silo (its abandoned stream would hold the id, and its KV
    // blocks, until Orleans' enumerator timeout): the newest caller takes the id over.
    private static async Task<GenerationStream> SubmitAsync(HostedWorker worker, WorkerJob job, ILogger logger, CancellationToken cancellationToken)
    {
        var request = JobMapping.ToGenerationRequest(job);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return worker.Engine.Submit(request);
            }
            catch (EngineRequestException ex) when (ex.Kind == EngineErrorKind.DuplicateRequest && attempt < TakeOverAttempts)
            {
                if (attempt == 0)
                {
                    Log.TakingOver(logger, worker.Id, job.RequestId);
                    worker.Engine.Abort(job.RequestId);
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

    private static List<PositionLogprobsDto> ToDto(IInferenceEngine engine, IReadOnlyList<PositionLogprobs> logprobs)
    {
        var result = new List<PositionLogprobsDto>(logprobs.Count);
        foreach (var p in logprobs)
        {
            var top = new List<TokenLogprobDto>(p.Top.Count);
            foreach (var t in p.Top) top.Add(ToDto(engine, t));
            result.Add(new PositionLogprobsDto(ToDto(engine, p.Chosen), top));
        }
        return result;
    }

    private static TokenLogprobDto ToDto(IInferenceEngine engine, TokenLogprob t) =>
        new(t.TokenId, t.Logprob, engine.Tokenizer.Decode([t.TokenId], skipSpecialTokens: false));

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId}: job {RequestId} is already running for a caller that is gone; aborting it and starting the new one")]
        public static partial void TakingOver(ILogger logger, string workerId, string requestId);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Worker {WorkerId} runs {RequestId} ({PromptTokens} prompt tokens, n={N})")]
        public static partial void JobStarted(ILogger logger, string workerId, string requestId, int promptTokens, int n);
    }
}
