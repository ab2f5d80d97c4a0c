using OrleansInference.Grains.Placement;

namespace OrleansInference.Grains.Tests.Placement;

public sealed class CacheAwarePolicyTests
{
    private static readonly CacheAwareOptions Options = new() { Alpha = 1.0, Slack = 0.5, GuardConstant = 2 };

    [Fact]
    public void FollowsTheLongestCachedPrefix()
    {
        var policy = new CacheAwarePolicy(Options);
        var context = new PlacementContext("r", 576, 16,
        [
            new PlacementCandidate("a", 0, 1, 16, 10),
            new PlacementCandidate("b", 32, 1, 16, 10),
            new PlacementCandidate("c", 8, 0, 0, 0),
        ], []);
        var choice = policy.Choose(context);
        Assert.Equal("b", choice.WorkerId);
        Assert.Equal(32, choice.CachedBlocks);
        Assert.Equal(576 - 512 + 16, choice.Cost); // 64 uncached tokens + α·16 tokens of load
    }

    [Fact]
    public void LoadOutweighsAHitWhenItCostsMoreThanThePrefill()
    {
        var policy = new CacheAwarePolicy(Options);
        // b saves 512 tokens of prefill but has 2,000 tokens queued: a (576 to compute, idle) is cheaper.
        var context = new PlacementContext("r", 576, 16,
        [
            new PlacementCandidate("a", 0, 1, 0, 0),
            new PlacementCandidate("b", 32, 1, 2000, 0),
        ], []);
        Assert.Equal("a", policy.Choose(context).WorkerId);
    }

    [Fact]
    public void BalanceGuardSkipsAnOverloadedWorkerDespiteAFullHit()
    {
        var policy = new CacheAwarePolicy(new CacheAwareOptions { Alpha = 0, Slack = 0.5, GuardConstant = 2 });
        // Mean in-flight = (12 + 1 + 1 + 2) / 4 = 4; limit = 4·1.5 + 2 = 8: a (12) is skipped although α = 0.
        var context = new PlacementContext("r", 576, 16,
        [
            new PlacementCandidate("a", 36, 12, 0, 0),
            new PlacementCandidate("b", 0, 1, 0, 0),
            new PlacementCandidate("c", 0, 1, 0, 0),
            new PlacementCandidate("d", 4, 2, 0, 0),
        ], []);
        Assert.Equal("d", policy.Choose(context).WorkerId);
    }

    [Fact]
    public void BalanceGuardYieldsWhenEveryWorkerIsOverTheLimit()
    {
        // With one worker its in-flight count equals the mean: it can never be over the limit, so it is chosen.
        var policy = new CacheAwarePolicy(new CacheAwareOptions { Alpha = 1, Slack = 0, GuardConstant = 0 });
        var context = new PlacementContext("r", 100, 16, [new PlacementCandidate("a", 0, 50, 5000, 0)], []);
        Assert.Equal("a", policy.Choose(context).WorkerId);
    }

    [Fact]
    public void NewPrefixesGoToTheWorkerWithTheLeastHistoryWhenCostsTie()
    {
        var policy = new CacheAwarePolicy(Options);
        var context = new PlacementContext("r", 576, 16,
        [
            new PlacementCandidate("a", 0, 0, 0, 9),
            new PlacementCandidate("b", 0, 0, 0, 3),
            new PlacementCandidate("c", 0, 0, 0, 5),
        ], []);
        Assert.Equal("b", policy.Choose(context).WorkerId);
    }

    [Fact]
    public void ANewPrefixGoesToTheWorkerWithTheFewestRecentPrefixesBeforePlacements()
    {
        // b has had the fewest placements (its prefixes were rarely asked for), but d owns the fewest prefixes: giving
        // b a fifth prefix is how equally popular groups ended up split 5/5/3/3.
        var policy = new CacheAwarePolicy(Options);
        var context = new PlacementContext("r", 576, 16,
        [
            new PlacementCandidate("a", 0, 0, 0, 9) { RecentPrefixes = 4 },
            new PlacementCandidate("b", 0, 0, 0, 3) { RecentPrefixes = 4 },
            new PlacementCandidate("c", 0, 0, 0, 5) { RecentPrefixes = 4 },
            new PlacementCandidate("d", 0, 1, 0, 8) { RecentPrefixes = 3 },
        ], []);
        Assert.Equal("d", policy.Choose(context).WorkerId);
    }

    [Fact]
    public void UnknownPolicyNameIsAnInvalidRequest()
    {
        var ex = Assert.Throws<InferenceException>(() => PlacementPolicies.Create("fastest"));
        Assert.Equal(InferenceErrorCode.InvalidRequest, ex.Code);
        Assert.Contains("cache-aware", ex.Message);
    }
}
