using OrleansInference.Grains.Requests;

namespace OrleansInference.Grains.Tests.Requests;

public sealed class ChunkLogTests
{
    private static TokenChunk Chunk(int index, int offset, params int[] tokens) =>
        new() { RequestId = "r", Index = index, Offset = offset, TokenIds = tokens, Text = $"<{string.Join(",", tokens)}>" };

    [Fact]
    public void SkipKeepsOnlyTheTokensTheCallerLacks()
    {
        var chunk = Chunk(0, 4, 40, 41, 42);
        Assert.Same(chunk, ChunkLog.Skip(chunk, 4));
        Assert.Null(ChunkLog.Skip(chunk, 7));
        var rest = ChunkLog.Skip(chunk, 5)!;
        Assert.Equal(5, rest.Offset);
        Assert.Equal([41, 42], rest.TokenIds);
        Assert.Equal(chunk.Text, rest.Text); // text belongs to the chunk's last token
    }

    [Fact]
    public async Task ReadersReplayFromTheirOffsetsThenFollowLive()
    {
        var log = new ChunkLog();
        log.Append(Chunk(0, 0, 1, 2));
        log.Append(Chunk(1, 0, 7));
        log.Append(Chunk(0, 2, 3));
        var ct = TestContext.Current.CancellationToken;
        // Started inline: it replays what is there, then waits for more (the grain runs all this on one scheduler).
        var reader = ReadTokensAsync(log, [1, 1], ct);
        Assert.False(reader.IsCompleted);
        log.Append(Chunk(1, 1, 8) with { FinishReason = InferenceFinishReason.Stop });
        log.Complete();
        var tokens = await reader;
        Assert.Equal([(0, 1), (0, 2), (1, 1)], tokens);
    }

    private static async Task<List<(int, int)>> ReadTokensAsync(ChunkLog log, int[] received, CancellationToken ct)
    {
        var got = new List<(int, int)>();
        await foreach (var c in log.ReadAsync(received, ct))
        {
            got.AddRange(c.TokenIds.Select((t, k) => (c.Index, c.Offset + k)));
        }
        return got;
    }

    [Fact]
    public async Task ReadersSeeTheFailureAfterTheRecordedChunks()
    {
        var log = new ChunkLog();
        log.Append(Chunk(0, 0, 5));
        log.Complete(new InferenceException(InferenceErrorCode.Unavailable, "gone"));
        var seen = 0;
        var ex = await Assert.ThrowsAsync<InferenceException>(async () =>
        {
            await foreach (var _ in log.ReadAsync(null, TestContext.Current.CancellationToken)) seen++;
        });
        Assert.Equal(1, seen);
        Assert.Equal(InferenceErrorCode.Unavailable, ex.Code);
    }
}
