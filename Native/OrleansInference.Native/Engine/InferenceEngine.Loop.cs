using System.Diagnostics;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Sampling;
using OrleansInference.Native.Scheduling;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Native.Engine;

// The engine thread: commands between steps, then one step (schedule, forward, sample, emit).
public sealed partial class InferenceEngine
{
    // Engine-thread state.
    private readonly Dictionary<string, RequestState> _requests = new(StringComparer.Ordinal);
    private readonly List<(RequestState Request, GenerationUpdate Update)> _outbox = [];
    private readonly List<RequestState> _ended = [];
    private readonly List<SequenceChunk> _chunks = [];
    private float[] _logits = [];
    private float[] _rowCopy = [];
    private RowSampling[] _selectRows = [];
    private int[] _selected = [];
    private long _nextSequenceId;
    private long _generated;

    private void Loop()
    {
        try
        {
            while (!_stopping)
            {
                DrainCommands();
                if (_stopping)
                {
                    break;
                }
                if (_scheduler.HasWork)
                {
                    var progressed = RunStep();
                    EndOfStep();
                    if (progressed)
                    {
                        continue;
                    }
                }
                else
                {
                    EndOfStep();
                }
                // Idle (or, defensively, nothing runnable): sleep until a command arrives.
                _wake.WaitOne(_scheduler.HasWork ? 10 : Timeout.Infinite);
            }
        }
        catch (Exception ex)
        {
            EngineLog.LoopFailed(_logger, ex);
            FailAfterCrash(ex);
        }
        finally
        {
            _loopExited.TrySetResult();
        }
    }

    /// <summary>The loop died on a bug: refuse new work and end what is open, so nothing waits forever.</summary>
    private void FailAfterCrash(Exception ex)
    {
        lock (_lifecycle)
        {
            _closed = true;
        }
        try
        {
            foreach (var r in _requests.Values.ToList())
            {
                EndRequest(r, FinishReason.Error, $"The engine failed: {ex.Message}");
            }
            Deliver();
        }
        catch (Exception again)
        {
            EngineLog.LoopFailed(_logger, again);
        }
    }

    private void DrainCommands()
    {
        var any = false;
        while (!_stopping && _commands.TryDequeue(out var command))
        {
            any = true;
            switch (command)
            {
                case SubmitCommand submit:
                    Interlocked.Decrement(ref _pendingSubmits);
                    Accept(submit.Request);
                    break;
                case AbortCommand abort:
                    if (_requests.TryGetValue(abort.RequestId, out var r) && (abort.Only is null || abort.Only == r))
                    {
                        EndRequest(r, FinishReason.Aborted, null);
                        EngineLog.Aborted(_logger, r.Id);
                    }
                    break;
                case WorkCommand work:
                    work.Run();
                    break;
            }
        }
        if (any)
        {
            EndOfStep();
        }
    }

    private void Accept(RequestState r)
    {
        _requests.Add(r.Id, r);
        InitializeSamples(r);
        _scheduler.Enqueue(r.PromptSequence!);
    }

    private void InitializeSamples(RequestState r)
    {
        var context = r.Prompt.Concat(r.Resumed).TakeLast(IncrementalDetokenizer.ContextTokens).ToArray();
        var n = r.Sampling.N;
        r.Samples = new SampleState[n];
        for (var i = 0; i < n; i++)
        {
            r.Samples[i] = new SampleState(r, r.Request.FirstSampleIndex + i, _tokenizer, context);
        }
        var seq = new Sequence(_nextSequenceId++, r.Prompt.Concat(r.Resumed), r.Prompt.Length, r.Request.Priority,
            r.Arrival, r.Samples[0].Index, r.HashRoot, _kv.BlockSize)
        {
            Slots = n,
            Tag = r.Samples[0],
        };
        r.Samples[0].Sequence = seq;
        r.PromptSequence = seq;
        r.Forked = n == 1;
        r.Unfinished = n;
    }

    /// <summary>Runs one step; false when nothing could be scheduled.</summary>
    private bool RunStep()
    {
        var plan = _scheduler.Schedule();
        foreach (var s in plan.Preempted)
        {
            EngineLog.Preempted(_logger, s.Id, Owner(s).Id);
        }
        if (plan.IsEmpty)
        {
            return plan.Preempted.Count > 0;
        }

        try
        {
            var now = Stopwatch.GetTimestamp();
            _chunks.Clear();
            var rows = 0;
            foreach (var c in plan.Chunks)
            {
                var r = Owner(c.Sequence);
                if (r.ScheduledAt is null)
                {
                    r.ScheduledAt = now;
                    Interlocked.Decrement(ref _queued);
                }
                var tokens = c.Sequence.TokenSpan.Slice(c.Start, c.Count).ToArray();
                _chunks.Add(new SequenceChunk(tokens, c.Start, c.Sequence.Blocks.AsArray(), c.SamplesNext ? LogitsMode.Last : LogitsMode.None));
                rows += c.SamplesNext ? 1 : 0;
            }
            foreach (var copy in plan.Copies)
            {
                _backend.CopyBlock(copy.Source, copy.Destination);
            }
            if (_selector is not null && SelectionRows(plan, rows))
            {
                // Every row's token is chosen where the logits are: only ids come back.
                EnsureCapacity(ref _selected, rows);
                _selector.ForwardSelect(_chunks, _selectRows.AsSpan(0, rows), _selected.AsSpan(0, rows));
                foreach (var c in plan.Chunks)
                {
                    _scheduler.OnComputed(c);
                }
                var picked = 0;
                foreach (var c in plan.Chunks)
                {
                    if (c.SamplesNext)
                    {
                        Accept((SampleState)c.Sequence.Tag!, new SampledToken(_selected[picked++], null));
                    }
                }
                return true;
            }

            EnsureCapacity(ref _logits, (long)rows * _vocab);
            _backend.Forward(_chunks, _logits.AsSpan(0, rows * _vocab));

            foreach (var c in plan.Chunks)
            {
                _scheduler.OnComputed(c);
            }
            var row = 0;
            foreach (var c in plan.Chunks)
            {
                if (c.SamplesNext)
                {
                    OnLogits(c.Sequence, _logits.AsSpan(row++ * _vocab, _vocab));
                }
            }
        }
        catch (Exception ex)
        {
            // Only this step's requests are affected: their blocks are freed (nothing half-written was published).
            var failed = plan.Chunks.Select(c => Owner(c.Sequence)).Distinct()
                .Where(r => _requests.TryGetValue(r.Id, out var current) && current == r)
                .ToList();
            EngineLog.StepFailed(_logger, ex, failed.Count);
            foreach (var r in failed)
            {
                EndRequest(r, FinishReason.Error, $"The engine step failed: {ex.Message}");
            }
        }
        return true;
    }

    private void OnLogits(Sequence seq, Span<float> logits)
    {
        var sample = (SampleState)seq.Tag!;
        var r = sample.Request;
        if (r.Forked)
        {
            Accept(sample, Sample(logits, r, seq, sample.Index));
            return;
        }

        // The prompt is computed once: every sample draws its first token from the same logits, then forks.
        var n = r.Samples.Length;
        var drawn = new SampledToken[n];
        EnsureCapacity(ref _rowCopy, _vocab);
        for (var i = 0; i < n; i++)
        {
            // The sampler applies penalties in place, so each draw gets a fresh copy of the row.
            var row = i == n - 1 ? logits : _rowCopy.AsSpan(0, _vocab);
            if (i < n - 1)
            {
                logits.CopyTo(row);
            }
            drawn[i] = Sample(row, r, seq, r.Samples[i].Index);
        }
        for (var i = 1; i < n; i++)
        {
            var child = seq.Fork(_nextSequenceId++, r.Samples[i].Index);
            _kv.Fork(seq.Blocks, child.Blocks);
            child.Tag = r.Samples[i];
            r.Samples[i].Sequence = child;
            _scheduler.AddForked(child);
        }
        seq.Slots = 1;
        r.Forked = true;
        for (var i = 0; i < n; i++)
        {
            Accept(r.Samples[i], drawn[i]);
        }
    }

    /// <summary>
    /// Fills <see cref="_selectRows"/> when every row of the step can be chosen by the backend: the host needs the
    /// logits for logprobs and penalties, and for a prompt whose n samples all draw from its one row.
    /// </summary>
    private bool SelectionRows(StepPlan plan, int rows)
    {
        if (rows == 0)
        {
            return false;
        }
        if (_selectRows.Length < rows)
        {
            _selectRows = new RowSampling[Math.Max(rows, 2 * _selectRows.Length)];
        }
        var i = 0;
        foreach (var c in plan.Chunks)
        {
            if (!c.SamplesNext)
            {
                continue;
            }
            var sample = (SampleState)c.Sequence.Tag!;
            var r = sample.Request;
            if (!r.Forked || RowSampling.For(r.Sampling, r.Seed, c.Sequence.Length, sample.Index) is not { } row)
            {
                return false;
            }
            _selectRows[i++] = row;
        }
        return true;
    }

    private SampledToken Sample(Span<float> logits, RequestState r, Sequence seq, int sampleIndex)
    {
        var tokens = seq.TokenSpan;
        return _sampler.Sample(logits, r.Sampling, tokens[..seq.PromptLength], tokens[seq.PromptLength..],
            position: seq.Length, sampleIndex, r.Seed);
    }

    /// <summary>Appends a sampled token, decodes it, applies the stop conditions and queues the update.</summary>
    private void Accept(SampleState sample, SampledToken sampled)
    {
        var seq = sample.Sequence!;
        var r = sample.Request;
        var p = r.Sampling;
        var token = sampled.TokenId;
        var now = Stopwatch.GetTimestamp();
        seq.Append(token);
        sample.Generated++;
        sample.FirstTokenAt ??= now;
        _generated++;

        FinishReason? finish = null;
        string? stopReason = null;
        string text;
        var isStopToken = p.StopTokenIds.Contains(token);
        if (isStopToken || (!p.IgnoreEos && _eos.Contains(token)))
        {
            finish = FinishReason.Stop;
            stopReason = isStopToken ? token.ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
            text = "";
        }
        else
        {
            var m = sample.Stops.Push(sample.Detokenizer.Push(token));
            text = m.Emit;
            if (m.Matched is not null)
            {
                finish = FinishReason.Stop;
                stopReason = m.Matched;
            }
        }
        if (finish is null && (seq.OutputLength >= p.MaxTokens || seq.Length >= Info.MaxModelLength))
        {
            finish = FinishReason.Length;
        }
        if (finish is not null && !sample.Stops.IsStopped)
        {
            // Release text held back for an incomplete character or a possible stop string; a stop string may still
            // complete in it.
            var m = sample.Stops.Push(sample.Detokenizer.Flush());
            text += m.Emit;
            if (m.Matched is not null)
            {
                finish = FinishReason.Stop;
                stopReason = m.Matched;
            }
            else
            {
                text += sample.Stops.Flush();
            }
        }

        _outbox.Add((r, new GenerationUpdate
        {
            RequestId = r.Id,
            SampleIndex = sample.Index,
            TokenIds = [token],
            Text = text,
            Logprobs = sampled.Logprobs is { } lp ? [lp] : null,
            FinishReason = finish,
            StopReason = stopReason,
            PromptTokens = seq.PromptLength + r.Resumed.Length,
            CachedPromptTokens = Math.Max(0, seq.CachedPromptTokens),
            Seed = r.Seed,
            Elapsed = r.Since(now),
            Timings = finish is null ? null : Timings(sample, now),
        }));
        if (finish is not null)
        {
            FinishSample(sample);
        }
    }

    private static GenerationTimings Timings(SampleState sample, long now)
    {
        var r = sample.Request;
        return new GenerationTimings(
            r.ScheduledAt is { } s ? r.Since(s) : r.Since(now),
            sample.FirstTokenAt is { } f ? r.Since(f) : TimeSpan.Zero,
            r.Since(now),
            sample.Generated);
    }

    private void FinishSample(SampleState sample)
    {
        var r = sample.Request;
        if (sample.Sequence is { } seq)
        {
            _scheduler.Remove(seq);
        }
        sample.Finished = true;
        if (--r.Unfinished == 0)
        {
            Retire(r);
        }
    }

    /// <summary>Ends every unfinished sample of a request with <paramref name="reason"/> and frees its blocks.</summary>
    private void EndRequest(RequestState r, FinishReason reason, string? error)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var s in r.Sequences().ToList())
        {
            _scheduler.Remove(s);
        }
        foreach (var sample in r.Samples)
        {
            if (sample.Finished)
            {
                continue;
            }
            sample.Finished = true;
            var text = reason == FinishReason.Aborted ? sample.Stops.Push(sample.Detokenizer.Flush()).Emit + sample.Stops.Flush() : "";
            _outbox.Add((r, new GenerationUpdate
            {
                RequestId = r.Id,
                SampleIndex = sample.Index,
                Text = text,
                FinishReason = reason,
                Error = error,
                PromptTokens = r.Prompt.Length + r.Resumed.Length,
                CachedPromptTokens = Math.Max(0, r.PromptSequence?.CachedPromptTokens ?? 0),
                Seed = r.Seed,
                Elapsed = r.Since(now),
                Timings = Timings(sample, now),
            }));
        }
        r.Unfinished = 0;
        Retire(r);
    }

    private void Retire(RequestState r)
    {
        if (r.ScheduledAt is null)
        {
            r.ScheduledAt = Stopwatch.GetTimestamp();
            Interlocked.Decrement(ref _queued);
        }
        _requests.Remove(r.Id);
        _active.TryRemove(r.Id, out _);
        _ended.Add(r);
    }

    /// <summary>Publishes load and KV events, then hands out the step's updates (state first, so readers agree).</summary>
    private void EndOfStep()
    {
        _load = BuildLoad();
        _kvEvents.Publish(_kv.Events.Drain());
        Deliver();
    }

    private void Deliver()
    {
        foreach (var (r, u) in _outbox)
        {
            r.Writer.TryWrite(u);
        }
        _outbox.Clear();
        foreach (var r in _ended)
        {
            r.Writer.TryComplete();
            EngineLog.Finished(_logger, r.Id, r.Since(Stopwatch.GetTimestamp()).TotalMilliseconds);
        }
        _ended.Clear();
    }

    private EngineLoad BuildLoad()
    {
        var running = 0;
        foreach (var r in _requests.Values)
        {
            if (r.Sequences().Any(s => s.Status == SequenceStatus.Running))
            {
                running++;
            }
        }
        return new EngineLoad
        {
            Waiting = _requests.Count - running,
            Running = running,
            PendingPrefillTokens = _scheduler.PendingPrefillTokens,
            TotalBlocks = _kv.Pool.Total,
            FreeBlocks = _kv.Pool.FreeCount,
            CachedBlocks = _kv.Cache.EvictableCount,
            PrefixQueryTokens = _scheduler.PrefixQueryTokens,
            PrefixHitTokens = _scheduler.PrefixHitTokens,
            PrefillTokensComputed = _scheduler.PrefillTokensComputed,
            GeneratedTokens = _generated,
            Preemptions = _scheduler.Preemptions,
        };
    }

    private static RequestState Owner(Sequence s) => ((SampleState)s.Tag!).Request;

    private static void EnsureCapacity<T>(ref T[] buffer, long length)
    {
        if (buffer.Length < length)
        {
            buffer = new T[length];
        }
    }
}
