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
        GenerationStream stream;
        try
        {
            stream = engine.Submit(JobMapping.ToGenerationRequest(job));
        }
        catch (EngineRequestException ex)
        {
            throw new InferenceException(JobMapping.ToErrorCode(ex.Kind), ex.Message, ex.Parameter);
        }
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
        [LoggerMessage(Level = LogLevel.Debug, Message = "Worker {WorkerId} runs {RequestId} ({PromptTokens} prompt tokens, n={N})")]
        public static partial void JobStarted(ILogger logger, string workerId, string requestId, int promptTokens, int n);
    }
}
