using OrleansInference.Native.Kv;
using OrleansInference.Native.Scheduling;

namespace OrleansInference.Native.Tests.Scheduling;

/// <summary>
/// Drives the real scheduler and KV manager the way the engine does, with a stand-in for the model: the "sampled"
/// token is a hash of the sequence so far, so any mix-up of tokens or positions changes every later token.
/// </summary>
internal sealed class SchedulerHarness
{
    private long _nextId;
    private long _arrival;

    public SchedulerHarness(int numBlocks, int blockSize, int maxBatchTokens, int maxRunning, bool prefixCaching = true)
    {
        Kv = new KvCacheManager(numBlocks, blockSize, prefixCaching);
        Scheduler = new Scheduler(Kv, new SchedulerLimits(maxBatchTokens, maxRunning));
    }

    public KvCacheManager Kv { get; }

    public Scheduler Scheduler { get; }

    public Dictionary<Sequence, int> Targets { get; } = [];

    public List<Sequence> Finished { get; } = [];

    public List<StepPlan> Plans { get; } = [];

    public Sequence Submit(int[] prompt, int maxTokens, RequestPriority priority = RequestPriority.Interactive)
    {
        var s = new Sequence(_nextId++, prompt, prompt.Length, priority, _arrival++, 0, 42UL, Kv.BlockSize);
        Targets[s] = maxTokens;
        Scheduler.Enqueue(s);
        return s;
    }

    public static int NextToken(IReadOnlyList<int> tokens)
    {
        var h = 17;
        foreach (var t in tokens) h = unchecked(h * 31 + t);
        return (int)((uint)h % 1000);
    }

    public StepPlan Step()
    {
        var plan = Scheduler.Schedule();
        Plans.Add(plan);
        foreach (var c in plan.Chunks)
        {
            Scheduler.OnComputed(c);
        }
        foreach (var c in plan.Chunks.Where(c => c.SamplesNext))
        {
            var s = c.Sequence;
            s.Append(NextToken(s.Tokens));
            if (s.OutputLength >= Targets[s])
            {
                Scheduler.Remove(s);
                Finished.Add(s);
            }
        }
        return plan;
    }

    public void RunToCompletion(int maxSteps = 10_000)
    {
        for (var i = 0; i < maxSteps && Scheduler.HasWork; i++)
        {
            Step();
        }
        if (Scheduler.HasWork)
        {
            throw new InvalidOperationException("Scheduler did not finish.");
        }
    }

    public PoolAccounting Accounting() =>
        Kv.CheckAccounting(Scheduler.Running.Concat(Scheduler.Waiting).Select(s => s.Blocks));

    /// <summary>What the sequence would be if it ran alone with no interference.</summary>
    public static List<int> Expected(int[] prompt, int maxTokens)
    {
        var t = prompt.ToList();
        for (var i = 0; i < maxTokens; i++) t.Add(NextToken(t));
        return t;
    }
}
