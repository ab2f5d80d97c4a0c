using System.Buffers.Binary;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Kv;
using OrleansInference.Native.Models;
using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>KV events, snapshots, and moving cached prefixes between engines.</summary>
public sealed class EngineKvTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Kv_events_are_numbered_consecutively_and_the_snapshot_matches_their_replay()
    {
        // A small pool, so later requests evict earlier blocks and Removed events appear too.
        await using var engine = fx.NewEngine(o => o.NumBlocks = 16);
        var batches = new List<KvEventBatch>();
        using var subscription = engine.SubscribeKvEvents(b => { lock (batches) batches.Add(b); });
        for (var i = 0; i < 6; i++)
        {
            await engine.RunAsync(Greedy($"r{i}", Prompt(60 + i, 40), 20));
        }
        var cached = await engine.CachedHashesAsync();
        var snapshot = engine.GetKvSnapshot();

        List<KvEventBatch> seen;
        lock (batches) seen = [.. batches];
        Assert.Equal(Enumerable.Range(1, seen.Count).Select(i => (long)i), seen.Select(b => b.Sequence));
        Assert.Equal(seen[^1].Sequence, snapshot.Sequence);
        var replayed = new HashSet<ulong>();
        foreach (var e in seen.SelectMany(b => b.Events))
        {
            foreach (var h in e.BlockHashes)
            {
                Assert.True(e.Kind == KvEventKind.Stored ? replayed.Add(h) : replayed.Remove(h));
            }
        }
        Assert.Contains(seen.SelectMany(b => b.Events), e => e.Kind == KvEventKind.Removed);
        Assert.True(replayed.SetEquals(snapshot.BlockHashes));
        Assert.True(replayed.SetEquals(cached));

        // The hashes are the ones the conductor computes from the prompt.
        var prompt = Prompt(65, 40);
        var expected = BlockHasher.HashBlocks(prompt, 16, BlockHasher.Root(engine.Info.ModelId));
        Assert.Subset(replayed, expected.ToHashSet());
    }

    [Fact]
    public async Task Exported_blocks_imported_elsewhere_are_reused_with_identical_output()
    {
        var prompt = Prompt(70, 45);
        await using var a = fx.NewEngine();
        var original = await a.RunAsync(Sampled("a", prompt, 10, seed: 8) with { CacheSalt = "tenant-1" });
        Assert.Null(await a.ExportKvAsync(prompt, "tenant-2", Ct)); // other salt: nothing cached
        var payload = await a.ExportKvAsync(prompt, "tenant-1", Ct);
        Assert.NotNull(payload);

        await using var b = fx.NewEngine();
        Assert.Equal(32, await b.ImportKvAsync(payload, Ct)); // two full blocks of the 45-token prompt
        Assert.Equal(32, await b.ImportKvAsync(payload, Ct)); // idempotent
        var continued = await b.RunAsync(Sampled("b", prompt, 10, seed: 8) with { CacheSalt = "tenant-1" });
        Assert.Equal(32, continued.CachedPromptTokens);
        Assert.Equal(original.TokenIds, continued.TokenIds);
        Assert.Equal(13, b.GetLoad().PrefillTokensComputed);
        await b.AssertPoolCleanAsync();
        await a.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task A_bf16_payload_is_converted_on_import()
    {
        var prompt = Prompt(71, 33);
        await using var a = fx.NewEngine();
        await a.RunAsync(Greedy("a", prompt, 4));
        var payload = KvTransferFormat.Read((await a.ExportKvAsync(prompt, null, Ct))!);
        var bf16 = new byte[payload.BlockData.Length / 2];
        KvElementConversion.Convert(payload.BlockData.Span, DType.F32, bf16, DType.BF16);
        var asBf16 = KvTransferFormat.Write(payload with { ElementType = DType.BF16 },
            (i, dst) => bf16.AsSpan(i * dst.Length, dst.Length).CopyTo(dst));

        await using var b = fx.NewEngine();
        Assert.Equal(32, await b.ImportKvAsync(asBf16, Ct));
        var roundTrip = KvTransferFormat.Read((await b.ExportKvAsync(prompt, null, Ct))!);
        var original = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(payload.BlockData.Span);
        var back = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(roundTrip.BlockData.Span);
        Assert.Equal(original.Length, back.Length);
        for (var i = 0; i < original.Length; i++)
        {
            Assert.True(Math.Abs(original[i] - back[i]) <= Math.Abs(original[i]) / 128 + 1e-30, $"element {i}: {original[i]} vs {back[i]}");
        }
    }

    public static TheoryData<string, string> Corruptions => new()
    {
        { "flipped data byte", "checksum" },
        { "truncated", "truncated" },
        { "bad magic", "magic" },
        { "future version", "version" },
        { "other model", "model" },
        { "other block size", "blocks of 8 tokens" },
        { "hash does not match tokens", "hashes do not match" },
        { "other hash version", "hash version" },
    };

    [Theory]
    [MemberData(nameof(Corruptions))]
    public async Task A_corrupted_or_incompatible_payload_is_refused_with_InvalidDataException(string what, string message)
    {
        var prompt = Prompt(72, 40);
        await using var a = fx.NewEngine();
        await a.RunAsync(Greedy("a", prompt, 2));
        var good = (await a.ExportKvAsync(prompt, null, Ct))!;
        var header = KvTransferFormat.Read(good);
        var bad = what switch
        {
            "flipped data byte" => Flip(good, good.Length - 100),
            "truncated" => good[..(good.Length / 2)],
            "bad magic" => Flip(good, 0),
            "future version" => WithVersion(good, 2),
            "other model" => Rewrite(header with { ModelId = "someone-else" }),
            "other block size" => Rewrite(header with { BlockSize = 8, TokenIds = header.TokenIds, BlockHashes = [.. header.BlockHashes, .. header.BlockHashes] }),
            "hash does not match tokens" => Rewrite(header with { TokenIds = header.TokenIds.Select(t => t + 1).ToArray() }),
            "other hash version" => Rewrite(header with { HashVersion = 99 }),
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };

        await using var b = fx.NewEngine();
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => b.ImportKvAsync(bad, Ct));
        Assert.Contains(message, e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(b.GetKvSnapshot().BlockHashes);
        await b.AssertPoolCleanAsync();

        static byte[] Flip(byte[] data, int at)
        {
            var copy = (byte[])data.Clone();
            copy[at] ^= 0x5a;
            return copy;
        }

        static byte[] WithVersion(byte[] data, int version)
        {
            var copy = (byte[])data.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(4), version);
            return copy;
        }

        byte[] Rewrite(KvPayload p)
        {
            var bytes = header.BlockData.ToArray();
            var per = (int)p.BlockBytes;
            return KvTransferFormat.Write(p, (i, dst) => bytes.AsSpan((i * per) % bytes.Length, per).CopyTo(dst));
        }
    }

    [Fact]
    public async Task Scoring_agrees_with_greedy_decoding()
    {
        await using var engine = fx.NewEngine(o => o.MaxBatchTokens = 32);
        var prompt = Prompt(80, 70);
        var greedy = await engine.RunAsync(Greedy("g", prompt, 12));
        var all = prompt.Concat(greedy.TokenIds).ToArray();
        var score = await engine.ScoreAsync(all, 3, Ct);
        Assert.Equal(all.Length, score.Argmax.Count);
        Assert.Equal(all.Length - 1, score.TargetLogprobs.Count);
        for (var i = 0; i < 12; i++)
        {
            Assert.Equal(greedy.TokenIds[i], score.Argmax[prompt.Length - 1 + i]);
        }
        Assert.All(score.TargetLogprobs, lp => Assert.True(lp <= 0));
        for (var i = 0; i < all.Length; i++)
        {
            var top = score.Top![i];
            Assert.Equal(3, top.Count);
            Assert.Equal(score.Argmax[i], top[0].TokenId);
            Assert.True(top[0].Logprob >= top[1].Logprob && top[1].Logprob >= top[2].Logprob);
            if (i + 1 < all.Length && all[i + 1] == score.Argmax[i])
            {
                Assert.Equal(top[0].Logprob, score.TargetLogprobs[i], 4);
            }
        }
        await engine.AssertPoolCleanAsync();

        var tooLong = await Assert.ThrowsAsync<EngineRequestException>(() => engine.ScoreAsync(new int[3000], 0, Ct));
        Assert.Equal(EngineErrorKind.PromptTooLong, tooLong.Kind);
        await Assert.ThrowsAsync<EngineRequestException>(() => engine.ScoreAsync([1, 50257], 0, Ct));
    }
}
