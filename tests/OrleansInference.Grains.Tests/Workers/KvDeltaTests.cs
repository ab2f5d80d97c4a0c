using OrleansInference.Grains.KvIndex;
using OrleansInference.Grains.Workers;
using OrleansInference.Native;

namespace OrleansInference.Grains.Tests.Workers;

public sealed class KvDeltaTests
{
    private static KvEventBatch Batch(long seq, params KvEvent[] events) => new(seq, events);

    [Fact]
    public void KeepsTheLastOperationPerHashAndTheSequenceRange()
    {
        var delta = new KvDelta();
        delta.Add(Batch(4, new KvEvent(KvEventKind.Stored, [10, 11, 12])));
        delta.Add(Batch(5, new KvEvent(KvEventKind.Removed, [11]), new KvEvent(KvEventKind.Stored, [13])));
        delta.Add(Batch(6, new KvEvent(KvEventKind.Stored, [11]), new KvEvent(KvEventKind.Removed, [12, 99])));
        Assert.Equal(4, delta.FirstSequence);
        Assert.Equal(6, delta.LastSequence);
        var part = delta.SplitByShard(1)[0]!.Value;
        Assert.Equal(new ulong[] { 10, 11, 13 }, part.Stored.Order());
        Assert.Equal(new ulong[] { 12, 99 }, part.Removed.Order());
    }

    [Fact]
    public void AClearDropsEarlierOperationsAndReachesEveryShard()
    {
        var delta = new KvDelta();
        delta.Add(Batch(1, new KvEvent(KvEventKind.Stored, [1, 2])));
        delta.Add(Batch(2, new KvEvent(KvEventKind.Cleared, []), new KvEvent(KvEventKind.Stored, [3])));
        Assert.True(delta.Cleared);
        var parts = delta.SplitByShard(4);
        Assert.All(parts, p => Assert.NotNull(p));
        Assert.Equal([3UL], parts[KvShards.ShardOf(3, 4)]!.Value.Stored);
        Assert.Equal(1, parts.Sum(p => p!.Value.Stored.Count));
    }

    [Fact]
    public void ShardsWithNothingToDoGetNothingAndHostTierIsIgnored()
    {
        var delta = new KvDelta();
        delta.Add(Batch(1, new KvEvent(KvEventKind.Stored, [8, 16]), new KvEvent(KvEventKind.Stored, [5], KvTier.Host)));
        var parts = delta.SplitByShard(8);
        Assert.Equal([8UL, 16], parts[0]!.Value.Stored);
        Assert.Equal(7, parts.Count(p => p is null));
    }
}
