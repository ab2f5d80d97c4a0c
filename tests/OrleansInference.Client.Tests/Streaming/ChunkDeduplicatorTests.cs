using OrleansInference.Client.Streaming;
using OrleansInference.Grains;
using static OrleansInference.Client.Tests.Infrastructure.FakeRequestGrain;

namespace OrleansInference.Client.Tests.Streaming;

public sealed class ChunkDeduplicatorTests
{
    [Fact]
    public void Repeats_are_dropped_and_overlaps_trimmed()
    {
        var d = new ChunkDeduplicator();
        Assert.Equal([1, 2], d.Accept(Chunk(0, 1, 2))!.TokenIds);
        Assert.Null(d.Accept(Chunk(0, 1, 2)));
        Assert.Null(d.Accept(Chunk(1, 2)));
        var trimmed = d.Accept(Chunk(1, 2, 3, 4))!;
        Assert.Equal([3, 4], trimmed.TokenIds);
        Assert.Equal(2, trimmed.Offset);
        Assert.Equal([4], d.Received);
    }

    [Fact]
    public void Samples_are_tracked_apart()
    {
        var d = new ChunkDeduplicator();
        d.Accept(Chunk(0, 1) with { Index = 1 });
        d.Accept(Chunk(0, 7, 8));
        Assert.Equal([2, 1], d.Received);
        Assert.NotNull(d.Accept(Chunk(1, 5) with { Index = 1 }));
    }

    [Fact]
    public void A_replayed_end_and_usage_are_delivered_once()
    {
        var d = new ChunkDeduplicator();
        var usage = new UsageInfo(3, 2, 0, 1.0, 0);
        var last = Chunk(0, 1, 2) with { FinishReason = InferenceFinishReason.Length, Usage = usage };
        Assert.NotNull(d.Accept(last));
        Assert.Null(d.Accept(last));
        Assert.Null(d.Accept(Chunk(2)));
    }

    [Fact]
    public void The_end_of_a_sample_survives_a_replay_of_its_tokens()
    {
        var d = new ChunkDeduplicator();
        d.Accept(Chunk(0, 1, 2));
        var end = d.Accept(Chunk(0, 1, 2) with { FinishReason = InferenceFinishReason.Stop })!;
        Assert.Empty(end.TokenIds);
        Assert.Equal("", end.Text);
        Assert.Equal(InferenceFinishReason.Stop, end.FinishReason);
    }
}
