using OrleansInference.Native.Scheduling;
using Xunit;

namespace OrleansInference.Native.Tests.Scheduling;

public sealed class SchedulerTests
{
    private static int[] Prompt(int seed, int length) =>
        Enumerable.Range(0, length).Select(i => (seed * 131 + i * 7) % 500).ToArray();

    [Fact]
    public void Decodes_come_first_and_a_long_prompt_is_prefilled_in_chunks_alongside_them()
    {
        var h = new SchedulerHarness(numBlocks: 64, blockSize: 4, maxBatchTokens: 8, maxRunning: 8);
        var a = h.Submit(Prompt(1, 3), maxTokens: 20);
        var b = h.Submit(Prompt(2, 3), maxTokens: 20);
        h.Step(); // both prompts (3 + 3 tokens)
        var longOne = h.Submit(Prompt(3, 30), maxTokens: 2);

        var plan = h.Step();
        Assert.Equal([a, b, longOne], plan.Chunks.Select(c => c.Sequence));
        Assert.Equal([1, 1, 6], plan.Chunks.Select(c => c.Count));
        Assert.False(plan.Chunks[2].SamplesNext);

        // 30 prompt tokens at 6 per step: chunks at 0, 6, 12, 18, 24; the last one samples.
        var starts = new List<int> { plan.Chunks[2].Start };
        while (longOne.OutputLength == 0)
        {
            plan = h.Step();
            Assert.True(plan.Tokens <= 8);
            Assert.Equal(2, plan.Chunks.Count(c => c.Count == 1 && c.Sequence != longOne));
            starts.Add(plan.Chunks.Single(c => c.Sequence == longOne).Start);
        }
        Assert.Equal([0, 6, 12, 18, 24], starts);

        h.RunToCompletion();
        Assert.Equal(SchedulerHarness.Expected(Prompt(3, 30), 2), longOne.Tokens);
        Assert.Equal(SchedulerHarness.Expected(Prompt(1, 3), 20), a.Tokens);
        Assert.True(h.Accounting().IsClean);
    }

    [Fact]
    public void A_cached_prefix_is_attached_instead_of_computed_and_counted()
    {
        var h = new SchedulerHarness(64, 4, 64, 8);
        var prompt = Prompt(5, 13);
        h.Submit(prompt, 3);
        h.RunToCompletion();
        Assert.Equal(13, h.Scheduler.PrefixQueryTokens);
        Assert.Equal(0, h.Scheduler.PrefixHitTokens);

        var again = h.Submit(prompt, 3);
        var plan = h.Step();
        var chunk = Assert.Single(plan.Chunks);
        Assert.Equal(12, chunk.Start); // three full blocks reused, only the last token computed
        Assert.Equal(1, chunk.Count);
        Assert.Equal(12, again.CachedPromptTokens);
        Assert.Equal(26, h.Scheduler.PrefixQueryTokens);
        Assert.Equal(12, h.Scheduler.PrefixHitTokens);
        h.RunToCompletion();
        Assert.Equal(SchedulerHarness.Expected(prompt, 3), again.Tokens);
    }

    [Fact]
    public void A_prompt_of_whole_blocks_still_computes_its_last_token()
    {
        var h = new SchedulerHarness(64, 4, 64, 8);
        var prompt = Prompt(6, 8);
        h.Submit(prompt, 1);
        h.RunToCompletion();
        h.Submit(prompt, 1);
        var chunk = Assert.Single(h.Step().Chunks);
        Assert.Equal(4, chunk.Start);
        Assert.Equal(4, chunk.Count);
    }

    [Fact]
    public void Interactive_requests_are_admitted_before_batch_ones_and_fcfs_within_a_class()
    {
        var h = new SchedulerHarness(64, 4, 64, maxRunning: 2);
        var b1 = h.Submit(Prompt(1, 4), 2, RequestPriority.Batch);
        var i1 = h.Submit(Prompt(2, 4), 2);
        var b2 = h.Submit(Prompt(3, 4), 2, RequestPriority.Batch);
        var i2 = h.Submit(Prompt(4, 4), 2);
        Assert.Equal([i1, i2], h.Step().Chunks.Select(c => c.Sequence));
        h.RunToCompletion();
        Assert.Equal([i1, i2, b1, b2], h.Finished);
    }

    [Fact]
    public void Running_sequences_never_exceed_the_limit()
    {
        var h = new SchedulerHarness(256, 4, 512, maxRunning: 3);
        for (var i = 0; i < 10; i++) h.Submit(Prompt(i, 5 + i), 4 + i % 3);
        while (h.Scheduler.HasWork)
        {
            h.Step();
            Assert.True(h.Scheduler.Running.Count <= 3);
        }
        Assert.Equal(10, h.Finished.Count);
    }

    [Fact]
    public void Out_of_blocks_the_lowest_priority_latest_arrival_is_preempted_and_recomputes_to_the_same_output()
    {
        // 12 blocks of 4 tokens; three sequences that each grow to 6 + 30 = 36 tokens (9 blocks) cannot all fit.
        var h = new SchedulerHarness(numBlocks: 12, blockSize: 4, maxBatchTokens: 64, maxRunning: 8);
        var first = h.Submit(Prompt(1, 6), 30);
        var batch = h.Submit(Prompt(2, 6), 30, RequestPriority.Batch);
        var last = h.Submit(Prompt(3, 6), 30);
        Sequence? firstVictim = null;
        while (h.Scheduler.HasWork)
        {
            var plan = h.Step();
            firstVictim ??= plan.Preempted.FirstOrDefault();
            var report = h.Accounting();
            Assert.True(report.IsClean, report.ToString());
        }
        Assert.Same(batch, firstVictim);
        Assert.True(h.Scheduler.Preemptions > 0);
        Assert.Equal(SchedulerHarness.Expected(Prompt(1, 6), 30), first.Tokens);
        Assert.Equal(SchedulerHarness.Expected(Prompt(2, 6), 30), batch.Tokens);
        Assert.Equal(SchedulerHarness.Expected(Prompt(3, 6), 30), last.Tokens);
        Assert.Equal(12, h.Kv.Pool.Available);
    }

    [Fact]
    public void A_preempted_sequence_resumes_before_later_arrivals_of_its_class()
    {
        var h = new SchedulerHarness(numBlocks: 6, blockSize: 4, maxBatchTokens: 64, maxRunning: 8);
        var a = h.Submit(Prompt(1, 4), 16);
        var b = h.Submit(Prompt(2, 4), 16);
        Sequence? victim = null;
        while (victim is null)
        {
            victim = h.Step().Preempted.FirstOrDefault();
        }
        Assert.Same(b, victim);
        var c = h.Submit(Prompt(3, 4), 2);
        Assert.Equal([b, c], h.Scheduler.Waiting);
        while (h.Scheduler.HasWork)
        {
            var plan = h.Step();
            // c is never admitted while b still waits.
            Assert.False(plan.Chunks.Any(ch => ch.Sequence == c) && b.Status == SequenceStatus.Waiting);
            Assert.False(c.Status == SequenceStatus.Running && b.Status == SequenceStatus.Waiting);
        }
        Assert.Equal(SchedulerHarness.Expected(Prompt(2, 4), 16), b.Tokens);
    }

    [Fact]
    public void Removing_a_sequence_frees_its_blocks_at_once_wherever_it_is()
    {
        var h = new SchedulerHarness(32, 4, 8, 8);
        var running = h.Submit(Prompt(1, 20), 5);
        var waiting = h.Submit(Prompt(2, 20), 5);
        h.Step();
        Assert.Equal(SequenceStatus.Running, running.Status);
        Assert.True(running.Blocks.Count > 0);
        h.Scheduler.Remove(running);
        h.Scheduler.Remove(waiting);
        Assert.False(h.Scheduler.HasWork);
        Assert.Equal(32, h.Kv.Pool.Available);
        Assert.True(h.Accounting().IsClean);
    }
}
