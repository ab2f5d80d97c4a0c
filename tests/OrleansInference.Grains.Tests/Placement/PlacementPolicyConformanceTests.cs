using OrleansInference.Grains.Placement;

namespace OrleansInference.Grains.Tests.Placement;

/// <summary>What every placement policy must do; subclassed once per policy.</summary>
public abstract class PlacementPolicyConformanceTests
{
    protected abstract IPlacementPolicy CreatePolicy();

    private static readonly string[] Ids = ["w-a", "w-b", "w-c", "w-d"];

    private static PlacementContext RandomContext(Random rng, IReadOnlyCollection<string> excluded, int workers = 4)
    {
        var candidates = Ids.Take(workers)
            .Select(id => new PlacementCandidate(id, rng.Next(0, 40), rng.Next(0, 6), rng.Next(0, 4000), rng.Next(0, 50)))
            .ToList();
        return new PlacementContext($"r{rng.Next()}", rng.Next(1, 640), 16, candidates, excluded);
    }

    [Fact]
    public void NeverPicksAnExcludedWorker()
    {
        var policy = CreatePolicy();
        var rng = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var excluded = Ids.Where(_ => rng.Next(3) == 0).Take(3).ToArray();
            var choice = policy.Choose(RandomContext(rng, excluded));
            Assert.DoesNotContain(choice.WorkerId, excluded);
        }
    }

    [Fact]
    public void NeverPicksAnUnknownWorker()
    {
        var policy = CreatePolicy();
        var rng = new Random(11);
        for (var i = 0; i < 200; i++)
        {
            var context = RandomContext(rng, ["w-z", "ghost"], workers: 1 + rng.Next(4));
            var choice = policy.Choose(context);
            Assert.Contains(choice.WorkerId, context.Candidates.Select(c => c.WorkerId));
        }
    }

    [Fact]
    public void ThrowsUnavailableWhenNoWorkerIsLeft()
    {
        var policy = CreatePolicy();
        var none = new PlacementContext("r", 100, 16, [], []);
        Assert.Equal(InferenceErrorCode.Unavailable, Assert.Throws<InferenceException>(() => policy.Choose(none)).Code);
        var allExcluded = new PlacementContext("r", 100, 16, [new PlacementCandidate("w-a", 3, 0, 0, 0)], ["w-a"]);
        Assert.Equal(InferenceErrorCode.Unavailable, Assert.Throws<InferenceException>(() => policy.Choose(allExcluded)).Code);
    }

    [Fact]
    public void SpreadsConcurrentRequestsOverTheWorkers()
    {
        // 40 uncached requests that stay in flight: every worker must end with 10 of them.
        var counts = Place(CreatePolicy(), 40, complete: false);
        Assert.All(counts.Values, c => Assert.Equal(10, c));
    }

    [Fact]
    public void SpreadsSequentialRequestsOverTheWorkers()
    {
        // One at a time (each completes before the next): loads are all zero, so only history can spread them.
        var counts = Place(CreatePolicy(), 40, complete: true);
        Assert.True(counts.Values.Max() - counts.Values.Min() <= 1, string.Join(", ", counts));
    }

    private static Dictionary<string, int> Place(IPlacementPolicy policy, int requests, bool complete)
    {
        var state = Ids.ToDictionary(id => id, id => new PlacementCandidate(id, 0, 0, 0, 0));
        var counts = Ids.ToDictionary(id => id, _ => 0);
        for (var i = 0; i < requests; i++)
        {
            var choice = policy.Choose(new PlacementContext($"r{i}", 256, 16, state.Values.ToList(), []));
            counts[choice.WorkerId]++;
            var c = state[choice.WorkerId];
            state[choice.WorkerId] = complete
                ? c with { Placements = c.Placements + 1 }
                : c with { InFlight = c.InFlight + 1, LoadTokens = c.LoadTokens + 256, Placements = c.Placements + 1 };
        }
        return counts;
    }

    [Fact]
    public void IsDeterministicForTheSameInputs()
    {
        var first = CreatePolicy();
        var second = CreatePolicy();
        var rng1 = new Random(5);
        var rng2 = new Random(5);
        var shuffle = new Random(9);
        for (var i = 0; i < 100; i++)
        {
            var a = RandomContext(rng1, []);
            var b = RandomContext(rng2, []);
            // The same candidates in another order must not change the answer.
            b = b with { Candidates = b.Candidates.OrderBy(_ => shuffle.Next()).ToList() };
            Assert.Equal(first.Choose(a), second.Choose(b));
        }
    }
}

public sealed class CacheAwarePolicyConformanceTests : PlacementPolicyConformanceTests
{
    protected override IPlacementPolicy CreatePolicy() => PlacementPolicies.Create("cache-aware");
}

public sealed class LeastLoadedPolicyConformanceTests : PlacementPolicyConformanceTests
{
    protected override IPlacementPolicy CreatePolicy() => PlacementPolicies.Create("least-loaded");
}

public sealed class RoundRobinPolicyConformanceTests : PlacementPolicyConformanceTests
{
    protected override IPlacementPolicy CreatePolicy() => PlacementPolicies.Create("round-robin");
}
