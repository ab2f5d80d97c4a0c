using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Runtime;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Metrics;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>
/// <see cref="InferenceCall"/> losing its request grain's stream (the grain's silo died or stopped, the grain moved):
/// it re-attaches from the tokens it has passed on, skips what the new stream repeats, and gives up after its attempts.
/// The grain streams are scripted here; the chaos runs exercise the same path against real silos.
/// </summary>
public sealed class InferenceCallReattachTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_lost_stream_is_picked_up_from_the_tokens_sent_and_every_token_arrives_once()
    {
        var starts = new List<int[]>();
        var script = new Queue<Func<IAsyncEnumerable<TokenChunk>>>(
        [
            // The first stream delivers offsets 0-3, then its grain's silo goes away.
            () => Chunks(0, 4, lostAfter: true),
            // The re-attached stream starts one token early (a chunk the client already has), then runs to the end.
            () => Chunks(3, 10, lostAfter: false),
        ]);
        await using var call = await StartAsync(script, starts, attempts: 3);

        var offsets = new List<int>();
        await foreach (var chunk in call.ReadAllAsync().WithCancellation(Ct))
        {
            offsets.AddRange(chunk.TokenIds.Select((_, i) => chunk.Offset + i));
        }

        Assert.Equal(Enumerable.Range(0, 10), offsets);
        Assert.Equal(1, call.Reattachments);
        Assert.Equal([4], Assert.Single(starts));
    }

    [Fact]
    public async Task A_stream_lost_before_its_first_chunk_resumes_as_a_resume_not_a_new_request()
    {
        var starts = new List<int[]>();
        var script = new Queue<Func<IAsyncEnumerable<TokenChunk>>>([() => Chunks(0, 0, lostAfter: true), () => Chunks(0, 3, lostAfter: false)]);
        await using var call = await StartAsync(script, starts, attempts: 3);

        var count = 0;
        await foreach (var chunk in call.ReadAllAsync().WithCancellation(Ct))
        {
            count += chunk.TokenIds.Count;
        }

        Assert.Equal(3, count);
        // An empty (not null) list: the request grain reads its checkpoint instead of starting the request afresh.
        Assert.Empty(Assert.Single(starts));
    }

    [Fact]
    public async Task After_its_attempts_the_loss_is_reported_and_other_failures_are_not_retried()
    {
        var starts = new List<int[]>();
        var lostForever = new Queue<Func<IAsyncEnumerable<TokenChunk>>>(Enumerable.Range(0, 5).Select(_ => (Func<IAsyncEnumerable<TokenChunk>>)(() => Chunks(0, 2, lostAfter: true))));
        await using (var call = await StartAsync(lostForever, starts, attempts: 2))
        {
            await Assert.ThrowsAsync<EnumerationAbortedException>(async () =>
            {
                await foreach (var _ in call.ReadAllAsync().WithCancellation(Ct))
                {
                }
            });
            Assert.Equal(2, call.Reattachments);
        }

        var refused = new Queue<Func<IAsyncEnumerable<TokenChunk>>>([() => Failing(new InferenceException(InferenceErrorCode.Unavailable, "no worker"))]);
        starts.Clear();
        await Assert.ThrowsAsync<InferenceException>(() => StartAsync(refused, starts, attempts: 3));
        Assert.Empty(starts);
    }

    private static async Task<InferenceCall> StartAsync(Queue<Func<IAsyncEnumerable<TokenChunk>>> script, List<int[]> starts, int attempts)
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var metrics = new InferenceHttpMetrics(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        var reattach = new StreamReattach(delivered =>
        {
            starts.Add([.. delivered]);
            return script.Dequeue()().GetAsyncEnumerator();
        }, attempts, TimeSpan.FromMilliseconds(1));
        var call = new InferenceCall("r1", "builtin", new IdleRequestGrain(), script.Dequeue()().GetAsyncEnumerator(), 0, metrics,
            TimeProvider.System, TimeSpan.FromSeconds(1), NullLogger.Instance, reattach: reattach);
        try
        {
            await call.PrefetchAsync();
            return call;
        }
        catch
        {
            await call.DisposeAsync();
            throw;
        }
    }

    private static async IAsyncEnumerable<TokenChunk> Chunks(int from, int to, bool lostAfter, [EnumeratorCancellation] CancellationToken ct = default)
    {
        for (var offset = from; offset < to; offset++)
        {
            await Task.Yield();
            yield return new TokenChunk
            {
                RequestId = "r1",
                Offset = offset,
                TokenIds = [100 + offset],
                Text = "t" + offset,
                FinishReason = !lostAfter && offset == to - 1 ? InferenceFinishReason.Length : null,
            };
        }
        if (lostAfter)
        {
            throw new EnumerationAbortedException("the remote target does not have a record of this enumerator");
        }
    }

    private static async IAsyncEnumerable<TokenChunk> Failing(Exception exception)
    {
        await Task.Yield();
        if (exception is not null)
        {
            throw exception;
        }
        yield break;
    }

    /// <summary>A request grain that is never called: every script above ends or fails before a cancel is due.</summary>
    private sealed class IdleRequestGrain : IRequestGrain
    {
        public IAsyncEnumerable<TokenChunk> GenerateAsync(InferenceRequest request, IReadOnlyList<int>? receivedTokens = null, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("not used");

        public Task CancelAsync() => Task.CompletedTask;

        public Task<RequestStatus> GetStatusAsync() => throw new InvalidOperationException("not used");
    }
}
