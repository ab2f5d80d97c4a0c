using OrleansInference.Grains.Conductor;

namespace OrleansInference.Grains.Tests.Conductor;

public sealed class PrefixOverlapTests
{
    [Fact]
    public void CountsOnlyTheLeadingRunOfEachWorker()
    {
        ulong[] hashes = [1, 2, 3, 4, 5];
        var holders = new Dictionary<ulong, IReadOnlyList<string>>
        {
            [1] = ["a", "b", "c"],
            [2] = ["a", "b"],
            [3] = ["a", "c"], // c lost block 2, so its later blocks do not count
            [4] = ["a", "c"],
            [5] = ["b"],
        };
        var runs = PrefixOverlap.LeadingRuns(hashes, holders);
        Assert.Equal(4, runs["a"]);
        Assert.Equal(2, runs["b"]);
        Assert.Equal(1, runs["c"]);
        Assert.False(runs.ContainsKey("d"));
    }

    [Fact]
    public void NoRunWithoutTheFirstBlock()
    {
        var runs = PrefixOverlap.LeadingRuns([1, 2], new Dictionary<ulong, IReadOnlyList<string>> { [2] = ["a"] });
        Assert.Empty(runs);
    }
}
