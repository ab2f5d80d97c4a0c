using OrleansInference.Native.Kv;

namespace OrleansInference.Native.Scheduling;

/// <summary>
/// Iteration-level continuous batching. Each step: running sequences that decode get one token each, then running
/// sequences still prefilling get chunks, then waiting sequences are admitted (interactive before batch, FCFS) while
/// the token budget, the running-sequence limit and the pool allow. A waiting sequence's cached prefix is attached
/// instead of computed. When a running sequence cannot get a block, the lowest-priority latest-arrived running
/// sequence is preempted: its blocks are freed (full ones stay in the prefix cache) and it is requeued at the front
/// of its class to recompute prompt and output later.
/// </summary>
internal sealed class Scheduler
{
    private readonly KvCacheManager _kv;
    private readonly SchedulerLimits _limits;
    private readonly WaitingQueue _waiting = new();
    private readonly List<Sequence> _running = [];
    private long _step;

    public Scheduler(KvCacheManager kv, SchedulerLimits limits)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limits.MaxBatchTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limits.MaxRunningSequences);
        _kv = kv;
        _limits = limits;
    }

    public KvCacheManager Kv => _kv;

    public IReadOnlyList<Sequence> Running => _running;

    public IEnumerable<Sequence> Waiting => _waiting.InOrder();

    public int WaitingCount => _waiting.Count;

    public bool HasWork => _running.Count > 0 || _waiting.Count > 0;

    /// <summary>Prompt tokens looked up in the prefix cache at admission (cumulative).</summary>
    public long PrefixQueryTokens { get; private set; }

    /// <summary>Of those, tokens found (cumulative).</summary>
    public long PrefixHitTokens { get; private set; }

    /// <summary>Tokens computed while prefilling (prompt, resumed output, or recompute after preemption), cumulative.</summary>
    public long PrefillTokensComputed { get; private set; }

    /// <summary>Tokens that must still be prefilled before waiting and running sequences decode.</summary>
    public long PendingPrefillTokens =>
        _waiting.InOrder().Sum(s => (long)s.Length) + _running.Sum(s => (long)Math.Max(0, s.AdmittedLength - s.NumComputed));

    public long Preemptions { get; private set; }

    /// <summary>Queues a new sequence at the back of its class.</summary>
    public void Enqueue(Sequence s)
    {
        s.Status = SequenceStatus.Waiting;
        _waiting.Enqueue(s);
    }

    /// <summary>Adds a sample forked from a running sequence (its blocks are already shared).</summary>
    public void AddForked(Sequence s)
    {
        s.Status = SequenceStatus.Running;
        _running.Add(s);
    }

    /// <summary>Finishes or aborts a sequence wherever it is; its blocks are released now.</summary>
    public void Remove(Sequence s)
    {
        if (s.Status == SequenceStatus.Finished)
        {
            return;
        }
        if (s.Status == SequenceStatus.Running)
        {
            _running.Remove(s);
        }
        else
        {
            _waiting.Remove(s);
        }
        _kv.Free(s.Blocks);
        s.Status = SequenceStatus.Finished;
    }

    /// <summary>Records that a chunk was computed and publishes the blocks it filled to the prefix cache.</summary>
    public void OnComputed(ScheduledChunk chunk)
    {
        var s = chunk.Sequence;
        var end = chunk.Start + chunk.Count;
        PrefillTokensComputed += Math.Max(0, Math.Min(end, s.AdmittedLength) - chunk.Start);
        s.NumComputed = end;
        var full = s.NumComputed / _kv.BlockSize;
        if (full > s.PublishedBlocks)
        {
            if (_kv.PrefixCaching)
            {
                _kv.Publish(s.Blocks, s.PublishedBlocks, full, s.BlockHashes(full));
            }
            s.PublishedBlocks = full;
        }
    }

    /// <summary>Plans the next step. Blocks are reserved (and preempted sequences freed) as a side effect.</summary>
    public StepPlan Schedule()
    {
        _step++;
        var plan = new StepPlan();
        var budget = _limits.MaxBatchTokens;

        _running.Sort(Compare);
        var order = _running.Where(s => s.IsDecoding).Concat(_running.Where(s => !s.IsDecoding)).ToList();
        foreach (var s in order)
        {
            if (budget == 0)
            {
                break;
            }
            if (s.Status != SequenceStatus.Running)
            {
                continue; // preempted earlier in this step
            }
            var n = Math.Min(s.Remaining, budget);
            while (true)
            {
                if (_kv.TryReserve(s.Blocks, s.NumComputed, n, out var copy))
                {
                    plan.Chunks.Add(new ScheduledChunk(s, s.NumComputed, n, copy));
                    budget -= n;
                    break;
                }
                var victim = _running[^1];
                budget += Preempt(victim, plan);
                if (victim == s)
                {
                    break;
                }
            }
        }

        Admit(plan, ref budget);
        return plan;
    }

    private void Admit(StepPlan plan, ref int budget)
    {
        var slots = _running.Count;
        foreach (var s in _waiting.InOrder().ToList())
        {
            if (budget == 0 || slots + s.Slots > _limits.MaxRunningSequences || s.PreemptedInStep == _step)
            {
                return;
            }

            // The last token is always computed: its logits choose the next one.
            var hitBlocks = _kv.PrefixCaching
                ? _kv.AttachCachedPrefix(s.Blocks, s.BlockHashes((s.Length - 1) / _kv.BlockSize))
                : 0;
            var computed = hitBlocks * _kv.BlockSize;
            var n = Math.Min(s.Length - computed, budget);
            if (!_kv.TryReserve(s.Blocks, computed, n, out var copy))
            {
                _kv.Free(s.Blocks);
                return;
            }

            if (_kv.PrefixCaching)
            {
                PrefixQueryTokens += s.Length;
                PrefixHitTokens += computed;
            }
            if (s.CachedPromptTokens < 0)
            {
                s.CachedPromptTokens = computed;
            }
            s.NumComputed = computed;
            s.AdmittedLength = s.Length;
            s.PublishedBlocks = hitBlocks;
            _waiting.Remove(s);
            s.Status = SequenceStatus.Running;
            _running.Add(s);
            slots += s.Slots;
            plan.Chunks.Add(new ScheduledChunk(s, computed, n, copy));
            budget -= n;
        }
    }

    /// <summary>Frees the victim's blocks and requeues it; returns the budget its cancelled chunk had taken.</summary>
    private int Preempt(Sequence victim, StepPlan plan)
    {
        var refund = 0;
        var i = plan.Chunks.FindIndex(c => c.Sequence == victim);
        if (i >= 0)
        {
            refund = plan.Chunks[i].Count;
            plan.Chunks.RemoveAt(i);
        }
        _running.Remove(victim);
        _kv.Free(victim.Blocks);
        victim.NumComputed = 0;
        victim.PublishedBlocks = 0;
        victim.PreemptedInStep = _step;
        victim.Status = SequenceStatus.Waiting;
        _waiting.Requeue(victim);
        plan.Preempted.Add(victim);
        Preemptions++;
        return refund;
    }

    /// <summary>Priority order: class, then arrival, then sample index. The last one is preempted first.</summary>
    private static int Compare(Sequence a, Sequence b)
    {
        var c = a.Priority.CompareTo(b.Priority);
        if (c != 0) return c;
        c = a.Arrival.CompareTo(b.Arrival);
        if (c != 0) return c;
        c = a.SampleIndex.CompareTo(b.SampleIndex);
        return c != 0 ? c : a.Id.CompareTo(b.Id);
    }
}
