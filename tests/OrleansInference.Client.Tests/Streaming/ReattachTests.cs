using Orleans.Runtime;
using OrleansInference.Client.Tests.Infrastructure;
using OrleansInference.Grains;
using static OrleansInference.Client.Tests.Infrastructure.FakeRequestGrain;

namespace OrleansInference.Client.Tests.Streaming;

public sealed class ReattachTests
{
    private static readonly InferenceRequest Request = new() { Model = "m", Prompt = "p" };

    private static OrleansInferenceClient Client(FakeRequestGrain grain, int maxAttempts = 3) => new(_ => grain, new OrleansInferenceClientOptions
    {
        TokenIdleTimeout = TimeSpan.FromMilliseconds(150),
        FirstTokenTimeout = TimeSpan.FromMilliseconds(300),
        MaxReattachAttempts = maxAttempts,
    });

    private static async Task<List<TokenChunk>> ReadAll(OrleansInferenceClient client)
    {
        var list = new List<TokenChunk>();
        await foreach (var c in client.StreamAsync("r", Request, TestContext.Current.CancellationToken))
        {
            list.Add(c);
        }
        return list;
    }

    [Fact]
    public async Task A_stalled_stream_is_resumed_with_the_tokens_received_and_no_token_twice()
    {
        var grain = new FakeRequestGrain(
            (_, ct) => Script([Chunk(0, 10, 11), Chunk(2, 12)], hang: true, cancellationToken: ct),
            // The grain replays from an earlier offset; the SDK drops what the caller already has.
            (_, ct) => Script([Chunk(2, 12), Chunk(3, 13, 14) with { FinishReason = InferenceFinishReason.Length, Usage = new UsageInfo(1, 5, 0, 1, 0) }],
                cancellationToken: ct));

        var chunks = await ReadAll(Client(grain));

        Assert.Equal([10, 11, 12, 13, 14], chunks.SelectMany(c => c.TokenIds));
        Assert.Equal("<10><11><12><13><14>", string.Concat(chunks.Select(c => c.Text)));
        Assert.Equal([null, [3]], grain.ReceivedTokens);
        Assert.Equal(InferenceFinishReason.Length, chunks[^1].FinishReason);
        Assert.Equal(0, grain.CancelCalls);
    }

    [Fact]
    public async Task A_call_lost_with_its_silo_is_resumed()
    {
        var grain = new FakeRequestGrain(
            (_, ct) => Script([Chunk(0, 1)], fail: new SiloUnavailableException("silo died"), cancellationToken: ct),
            (_, ct) => Script([Chunk(1, 2) with { FinishReason = InferenceFinishReason.Stop }], cancellationToken: ct));

        var chunks = await ReadAll(Client(grain));

        Assert.Equal([1, 2], chunks.SelectMany(c => c.TokenIds));
        Assert.Equal([null, [1]], grain.ReceivedTokens);
    }

    [Fact]
    public async Task No_progress_through_every_reattachment_fails_with_a_timeout()
    {
        var grain = new FakeRequestGrain((_, ct) => Script([], hang: true, cancellationToken: ct));
        await Assert.ThrowsAsync<InferenceTimeoutException>(() => ReadAll(Client(grain, maxAttempts: 2)));
        Assert.Equal(3, grain.ReceivedTokens.Count);
        Assert.Equal(1, grain.CancelCalls);
    }

    [Theory]
    [InlineData(InferenceErrorCode.ModelNotFound, typeof(ModelNotFoundException))]
    [InlineData(InferenceErrorCode.TooLarge, typeof(PromptTooLargeException))]
    [InlineData(InferenceErrorCode.Overloaded, typeof(OverloadedException))]
    [InlineData(InferenceErrorCode.Unavailable, typeof(InferenceUnavailableException))]
    [InlineData(InferenceErrorCode.InvalidRequest, typeof(InferenceRequestException))]
    public async Task Refusals_become_typed_exceptions(InferenceErrorCode code, Type expected)
    {
        var grain = new FakeRequestGrain((_, ct) => Script([], fail: new InferenceException(code, "no", "temperature"), cancellationToken: ct));
        var e = await Assert.ThrowsAnyAsync<InferenceRequestException>(() => ReadAll(Client(grain)));
        Assert.Equal(expected, e.GetType());
        Assert.Equal(code, e.Code);
        Assert.Equal("temperature", e.Param);
        Assert.Single(grain.ReceivedTokens);
    }

    [Fact]
    public async Task A_failed_sample_throws()
    {
        var grain = new FakeRequestGrain((_, ct) => Script([Chunk(0, 1) with { FinishReason = InferenceFinishReason.Error, Error = "engine died" }], cancellationToken: ct));
        var e = await Assert.ThrowsAsync<InferenceRequestException>(() => ReadAll(Client(grain)));
        Assert.Equal(InferenceErrorCode.Internal, e.Code);
        Assert.Contains("engine died", e.Message);
    }

    [Fact]
    public async Task Stopping_early_cancels_the_request()
    {
        var grain = new FakeRequestGrain((_, ct) => Script([Chunk(0, 1), Chunk(1, 2)], hang: true, cancellationToken: ct));
        await foreach (var _ in Client(grain).StreamAsync("r", Request, TestContext.Current.CancellationToken))
        {
            break;
        }
        Assert.Equal(1, grain.CancelCalls);
    }

    [Fact]
    public async Task CompleteAsync_gathers_samples_and_usage()
    {
        var usage = new UsageInfo(4, 3, 0, 1, 0);
        var grain = new FakeRequestGrain((_, ct) => Script(
        [
            Chunk(0, 1),
            Chunk(0, 7) with { Index = 1 },
            Chunk(1, 2, 3) with { FinishReason = InferenceFinishReason.Stop },
            Chunk(1, 8) with { Index = 1, FinishReason = InferenceFinishReason.Length, Usage = usage },
        ], cancellationToken: ct));

        var result = await Client(grain).CompleteAsync("r", Request, TestContext.Current.CancellationToken);

        Assert.Equal("r", result.RequestId);
        Assert.Equal(2, result.Choices.Count);
        Assert.Equal([1, 2, 3], result.Choices[0].TokenIds);
        Assert.Equal("<1><2><3>", result.Text);
        Assert.Equal(InferenceFinishReason.Stop, result.Choices[0].FinishReason);
        Assert.Equal([7, 8], result.Choices[1].TokenIds);
        Assert.Equal(InferenceFinishReason.Length, result.Choices[1].FinishReason);
        Assert.Equal(usage, result.Usage);
    }
}
