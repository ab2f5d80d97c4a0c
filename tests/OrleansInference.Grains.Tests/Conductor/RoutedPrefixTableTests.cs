using OrleansInference.Grains.Conductor;

namespace OrleansInference.Grains.Tests.Conductor;

public sealed class RoutedPrefixTableTests
{
    private static readonly long Second = TimeSpan.FromSeconds(1).Ticks;

    [Fact]
    public void RemembersWhatWasRoutedWhereUntilTheTtl()
    {
        var table = new RoutedPrefixTable(TimeSpan.FromSeconds(10));
        table.Record("a", 100, [1, 2, 3], now: 0);
        Assert.Equal(3, table.LeadingRun("a", [1, 2, 3, 4], 5 * Second));
        Assert.Equal(2, table.LeadingRun("a", [1, 2, 9], 5 * Second));
        Assert.Equal(0, table.LeadingRun("b", [1, 2, 3], 5 * Second));
        Assert.Equal(0, table.LeadingRun("a", [1, 2, 3], 11 * Second));
    }

    [Fact]
    public void KeepsAtMostThePoolSizeEvictingTheLeastRecentlyRouted()
    {
        var table = new RoutedPrefixTable(TimeSpan.FromMinutes(1));
        table.Record("a", 4, [1, 2, 3], 0);
        table.Record("a", 4, [1, 7], 1); // 1 refreshed; 2 is now the oldest
        table.Record("a", 4, [8], 2);     // 5 hashes > 4: 2 is evicted
        Assert.Equal(1, table.LeadingRun("a", [1, 2, 3], 3));
        Assert.Equal(2, table.LeadingRun("a", [1, 7], 3));
        table.Remove("a");
        Assert.Equal(0, table.LeadingRun("a", [1, 7], 3));
    }

    [Fact]
    public void CountsDistinctPrefixesRoutedWithinTheTtl()
    {
        var table = new RoutedPrefixTable(TimeSpan.FromSeconds(10));
        table.Record("a", 8, [1, 2, 3], 0);
        table.Record("a", 8, [1, 2, 4], 1 * Second);  // same prefix, another question
        table.Record("a", 8, [5, 6], 2 * Second);     // a second prefix
        table.Record("b", 8, [1, 2, 7], 3 * Second);  // the first prefix again, elsewhere
        for (var i = 0; i < 20; i++)
        {
            table.Record("a", 8, [5, (ulong)(100 + i)], 4 * Second); // pushes prefix 1's blocks out of the 8-block record
        }
        Assert.Equal(2, table.RecentPrefixes("a", 5 * Second)); // no saturation at the pool size: 1 and 5
        Assert.Equal(1, table.RecentPrefixes("b", 5 * Second));
        Assert.Equal(1, table.RecentPrefixes("a", 12 * Second)); // 1 was last routed at 1 s, 5 at 4 s
        Assert.Equal(0, table.RecentPrefixes("a", 15 * Second));
        Assert.Equal(0, table.RecentPrefixes("c", 0));
    }
}
