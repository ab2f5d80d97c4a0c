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
}
