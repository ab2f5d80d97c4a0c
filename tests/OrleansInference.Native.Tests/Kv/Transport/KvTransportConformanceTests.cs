using System.Diagnostics;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Kv.Transport;
using OrleansInference.Native.Tests.Engine;
using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Kv.Transport;

/// <summary>
/// What every <see cref="IKvTransport"/> must do, run once per implementation (subclasses make the engines and the
/// link): move a cached prefix so the receiver continues exactly as the sender would, refuse incompatible peers on both
/// ends, and fail in bounded time with a typed error when the peer is gone, without leaking a block on either end.
/// </summary>
public abstract class KvTransportConformanceTests
{
    /// <summary>Deadline used by the failure tests: short, so they stay fast.</summary>
    protected static readonly TimeSpan ShortTimeout = TimeSpan.FromSeconds(3);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Why this implementation cannot run here (the test is skipped with this reason), or null.</summary>
    protected abstract string? WhyUnavailable { get; }

    /// <summary>Whether a transfer skips the blocks the receiver already caches.</summary>
    protected abstract bool SkipsBlocksThePeerHas { get; }

    /// <summary>An engine for end <paramref name="side"/> (0 sends, 1 receives) over the built-in model.</summary>
    protected abstract InferenceEngine NewEngine(int side, Action<EngineOptions>? configure = null);

    /// <summary>Connects the two engines: (sender's end, receiver's end).</summary>
    protected abstract Task<(IKvTransport Sender, IKvTransport Receiver)> ConnectAsync(InferenceEngine sender, InferenceEngine receiver, KvTransportOptions options);

    [Fact]
    public async Task A_transferred_prefix_lets_the_receiver_continue_exactly_as_the_sender()
    {
        Assert.SkipWhen(WhyUnavailable is not null, WhyUnavailable ?? "");
        var prompt = Prompt(80, 45);
        await using var a = NewEngine(0);
        await using var b = NewEngine(1);
        var original = await a.RunAsync(Sampled("a", prompt, 8, seed: 3));
        var (sender, receiver) = await ConnectAsync(a, b, new KvTransportOptions());
        await using (sender)
        await using (receiver)
        {
            var (sent, received) = await TransferAsync(sender, receiver, prompt);
            var blockBytes = a.Backend.Layout.BlockBytes;
            Assert.Equal(32, received.CachedTokens); // two full blocks of the 45-token prompt
            Assert.Equal(32, sent.CachedTokens);
            Assert.Equal(2, received.BlocksMoved);
            Assert.Equal(2, sent.BlocksMoved);
            Assert.True(received.Bytes >= 2 * blockBytes, $"{received.Bytes} bytes moved for two blocks of {blockBytes}");

            var continued = await b.RunAsync(Sampled("b", prompt, 8, seed: 3));
            Assert.Equal(32, continued.CachedPromptTokens);
            Assert.Equal(original.TokenIds, continued.TokenIds);
            Assert.Equal(13, b.GetLoad().PrefillTokensComputed);

            // Again: the receiver has both blocks now.
            (sent, received) = await TransferAsync(sender, receiver, prompt);
            Assert.Equal(32, received.CachedTokens);
            if (SkipsBlocksThePeerHas)
            {
                Assert.Equal((0, 2), (received.BlocksMoved, received.BlocksPresent));
                Assert.Equal((0, 2), (sent.BlocksMoved, sent.BlocksPresent));
            }

            Assert.False(sender.IsFaulted);
            Assert.False(receiver.IsFaulted);
        }

        await a.AssertPoolCleanAsync();
        await b.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task A_prefix_the_sender_does_not_cache_is_an_empty_transfer()
    {
        Assert.SkipWhen(WhyUnavailable is not null, WhyUnavailable ?? "");
        await using var a = NewEngine(0);
        await using var b = NewEngine(1);
        var (sender, receiver) = await ConnectAsync(a, b, new KvTransportOptions());
        await using (sender)
        await using (receiver)
        {
            var (sent, received) = await TransferAsync(sender, receiver, Prompt(81, 40));
            Assert.Equal((0, 0), (sent.BlocksMoved, sent.CachedTokens));
            Assert.Equal((0, 0), (received.BlocksMoved, received.CachedTokens));
        }

        await a.AssertPoolCleanAsync();
        await b.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Engines_serving_different_models_refuse_the_transfer_on_both_ends_and_keep_the_link()
    {
        Assert.SkipWhen(WhyUnavailable is not null, WhyUnavailable ?? "");
        var prompt = Prompt(82, 40);
        await using var a = NewEngine(0);
        await using var b = NewEngine(1, o => o.ModelId = "another-model");
        await a.RunAsync(Greedy("a", prompt, 2));
        var (sender, receiver) = await ConnectAsync(a, b, new KvTransportOptions { Timeout = ShortTimeout });
        await using (sender)
        await using (receiver)
        {
            var send = sender.SendAsync(prompt, null, Ct);
            var receive = receiver.ReceiveAsync(Ct);
            var es = await Assert.ThrowsAsync<KvTransferException>(() => send);
            var er = await Assert.ThrowsAsync<KvTransferException>(() => receive);
            Assert.Equal(KvTransferError.Incompatible, es.Error);
            Assert.Equal(KvTransferError.Incompatible, er.Error);
            Assert.Contains("another-model", er.Message);
            Assert.False(sender.IsFaulted);
            Assert.False(receiver.IsFaulted);
        }

        await a.AssertPoolCleanAsync();
        await b.AssertPoolCleanAsync();
        Assert.Equal(0, b.GetLoad().CachedBlocks);
    }

    [Fact]
    public async Task A_sender_whose_peer_is_gone_fails_typed_within_the_deadline_and_releases_its_blocks()
    {
        Assert.SkipWhen(WhyUnavailable is not null, WhyUnavailable ?? "");
        var prompt = Prompt(83, 64);
        await using var a = NewEngine(0);
        await using var b = NewEngine(1);
        await a.RunAsync(Greedy("a", prompt, 2));
        var cachedBefore = a.GetLoad().CachedBlocks;
        var (sender, receiver) = await ConnectAsync(a, b, new KvTransportOptions { Timeout = ShortTimeout });
        await using (sender)
        {
            await receiver.DisposeAsync();
            var clock = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<KvTransferException>(() => sender.SendAsync(prompt, null, Ct));
            Assert.True(clock.Elapsed < ShortTimeout + TimeSpan.FromSeconds(10), $"failed after {clock.Elapsed}");
            Assert.Contains(e.Error, new[] { KvTransferError.PeerFailed, KvTransferError.Timeout });
            Assert.True(sender.IsFaulted);
            var again = await Assert.ThrowsAsync<KvTransferException>(() => sender.SendAsync(prompt, null, Ct));
            Assert.Equal(KvTransferError.LinkFaulted, again.Error);
        }

        await a.AssertPoolCleanAsync();
        Assert.Equal(cachedBefore, a.GetLoad().CachedBlocks); // released, still cached
    }

    [Fact]
    public async Task A_receiver_that_gets_no_offer_times_out_typed_and_holds_nothing()
    {
        Assert.SkipWhen(WhyUnavailable is not null, WhyUnavailable ?? "");
        await using var a = NewEngine(0);
        await using var b = NewEngine(1);
        var (sender, receiver) = await ConnectAsync(a, b, new KvTransportOptions { Timeout = ShortTimeout });
        await using (sender)
        await using (receiver)
        {
            var clock = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<KvTransferException>(() => receiver.ReceiveAsync(Ct));
            Assert.Equal(KvTransferError.Timeout, e.Error);
            Assert.InRange(clock.Elapsed, ShortTimeout - TimeSpan.FromMilliseconds(100), ShortTimeout + TimeSpan.FromSeconds(10));
            Assert.True(receiver.IsFaulted);
        }

        await b.AssertPoolCleanAsync();
        Assert.Equal(b.GetLoad().TotalBlocks, b.GetLoad().FreeBlocks);
    }

    private static async Task<(KvTransferResult Sent, KvTransferResult Received)> TransferAsync(IKvTransport sender, IKvTransport receiver, int[] prompt)
    {
        var receive = receiver.ReceiveAsync(Ct);
        var sent = await sender.SendAsync(prompt, null, Ct);
        return (sent, await receive);
    }
}
