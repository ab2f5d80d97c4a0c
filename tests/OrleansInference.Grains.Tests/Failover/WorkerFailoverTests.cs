using Orleans.TestingHost;
using OrleansInference.Grains.Tests.Cluster;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Tests.Failover;

/// <summary>
/// The worker (its silo) serving a streaming request dies while the request grain lives on another silo: the request
/// moves to a live worker and resumes from the prompt plus the tokens delivered, exactly as the uninterrupted run.
/// </summary>
public sealed class WorkerFailoverTests
{
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(4);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static InferenceRequest Request(int[] prompt, int maxTokens, bool sampled) => new()
    {
        Model = InferenceClusterFixture.Model,
        PromptTokenIds = prompt,
        Sampling = sampled
            ? new SamplingOptions { Temperature = 0.8f, TopP = 0.9f, Seed = 4242, MaxTokens = maxTokens, IgnoreEos = true }
            : new SamplingOptions { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
    };

    /// <summary>
    /// Starts <paramref name="request"/> from a silo other than the one whose worker serves it, reads its first chunk,
    /// and returns the stream (positioned after that chunk), the tokens so far and the worker's silo.
    /// </summary>
    internal static async Task<(IRequestGrain Grain, IAsyncEnumerator<TokenChunk> Stream, List<int> Tokens, InProcessSiloHandle WorkerSilo)> StartAwayFromWorkerAsync(
        FailoverCluster cluster, string id, InferenceRequest request)
    {
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var caller = cluster.Cluster.Silos[attempt % cluster.Cluster.Silos.Count];
            var grain = FailoverCluster.FactoryOf(caller).GetGrain<IRequestGrain>($"{id}-{attempt}");
            var stream = grain.GenerateAsync(request, null, Ct).GetAsyncEnumerator(Ct);
            Assert.True(await stream.MoveNextAsync());
            var first = stream.Current;
            var workerSilo = cluster.SiloOf(first.WorkerId!);
            Assert.Equal(caller.SiloAddress, cluster.HostOf(grain.GetGrainId()));
            if (!workerSilo.SiloAddress.Equals(caller.SiloAddress))
            {
                Assert.Equal(0, first.Offset);
                return (grain, stream, [.. first.TokenIds], workerSilo);
            }
            await stream.DisposeAsync();
            await grain.CancelAsync();
        }
        throw new InvalidOperationException("Every attempt was placed on the caller's own silo.");
    }

    internal static async Task<(List<int> Tokens, List<TokenChunk> Chunks)> ReadRestAsync(IAsyncEnumerator<TokenChunk> stream, List<int> tokens)
    {
        var chunks = new List<TokenChunk>();
        while (await stream.MoveNextAsync())
        {
            var c = stream.Current;
            chunks.Add(c);
            // Each token exactly once, in order: every chunk starts where the previous one ended.
            Assert.Equal(tokens.Count, c.Offset);
            tokens.AddRange(c.TokenIds);
        }
        await stream.DisposeAsync();
        return (tokens, chunks);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public async Task A_request_whose_worker_silo_dies_mid_stream_completes_identically_on_another_worker(bool sampled, bool kill)
    {
        await using var cluster = await FailoverCluster.StartAsync(3, Pace);
        var prompt = InferenceClusterFixture.PromptIds(21, 70);
        var request = Request(prompt, 300, sampled);
        var (reference, _) = await StreamReading.ReadAllAsync(cluster.Cluster.Client.GetGrain<IRequestGrain>("reference").GenerateAsync(request, null, Ct), Ct);
        Assert.Equal(300, reference[0].Count);

        var (grain, stream, tokens, workerSilo) = await StartAwayFromWorkerAsync(cluster, "moved", request);
        var deadWorker = (await cluster.Conductor.GetWorkersAsync()).Single(w => w.Registration.Silo == workerSilo.SiloAddress.ToParsableString()).Registration.WorkerId;
        if (kill)
        {
            await cluster.Cluster.KillSiloAsync(workerSilo, Ct);
        }
        else
        {
            await cluster.Cluster.StopSiloAsync(workerSilo, Ct);
        }
        var (all, chunks) = await ReadRestAsync(stream, tokens);

        Assert.Equal(reference[0], all);
        Assert.Equal(InferenceFinishReason.Length, chunks[^1].FinishReason);
        Assert.Equal(1, chunks[^1].Usage!.Migrations);
        Assert.Contains(chunks, c => c.TokenIds.Count > 0 && c.WorkerId != deadWorker);
        var status = await grain.GetStatusAsync();
        Assert.Equal(RequestState.Finished, status.State);
        Assert.Equal(1, status.Migrations);
        Assert.Equal([300], status.DeliveredTokens);
        var recovery = Assert.Single(status.RecoveryTimesMs);
        Assert.InRange(recovery, 0, 30_000);
        await cluster.AssertNoLeaksAsync(InferenceClusterFixture.Settle);
    }

    [Fact]
    public async Task Cancelling_while_the_request_is_being_moved_ends_it_cancelled_with_nothing_leaked()
    {
        await using var cluster = await FailoverCluster.StartAsync(3, Pace);
        var request = Request(InferenceClusterFixture.PromptIds(22, 50), 400, sampled: true);
        var (grain, stream, tokens, workerSilo) = await StartAwayFromWorkerAsync(cluster, "cancel-moving", request);

        await cluster.Cluster.KillSiloAsync(workerSilo, Ct);
        // Cancel as soon as the request starts moving: it is being re-placed or has just been submitted elsewhere.
        var deadline = DateTime.UtcNow + InferenceClusterFixture.Settle;
        while ((await grain.GetStatusAsync()).Migrations == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the request never moved");
            await Task.Delay(5, Ct);
        }
        await grain.CancelAsync();
        var (all, chunks) = await ReadRestAsync(stream, tokens);

        Assert.Equal(InferenceFinishReason.Cancelled, chunks[^1].FinishReason);
        Assert.True(all.Count < 400);
        var status = await grain.GetStatusAsync();
        Assert.Equal(RequestState.Cancelled, status.State);
        Assert.Equal(1, status.Migrations);
        await cluster.AssertNoLeaksAsync(InferenceClusterFixture.Settle);
    }

    [Fact]
    public async Task A_request_past_its_migration_limit_fails_with_a_clear_error_and_leaks_nothing()
    {
        await using var cluster = await FailoverCluster.StartAsync(3, Pace, o => o.MaxMigrations = 0);
        var request = Request(InferenceClusterFixture.PromptIds(23, 50), 400, sampled: false);
        var (grain, stream, tokens, workerSilo) = await StartAwayFromWorkerAsync(cluster, "limit", request);

        await cluster.Cluster.KillSiloAsync(workerSilo, Ct);
        var (_, chunks) = await ReadRestAsync(stream, tokens);

        var last = chunks[^1];
        Assert.Equal(InferenceFinishReason.Error, last.FinishReason);
        Assert.Contains("MaxMigrations = 0", last.Error);
        var status = await grain.GetStatusAsync();
        Assert.Equal(RequestState.Failed, status.State);
        Assert.Equal(0, status.Migrations);
        Assert.Contains("limit", status.Error);
        await cluster.AssertNoLeaksAsync(InferenceClusterFixture.Settle);
    }
}
