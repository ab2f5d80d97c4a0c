namespace OrleansInference.Grains.Placement;

/// <summary>
/// Fewest in-flight requests, then least queued work in tokens, then fewest placements so far; ignores the cache.
/// </summary>
internal sealed class LeastLoadedPolicy : IPlacementPolicy
{
    public const string PolicyName = "least-loaded";

    public string Name => PolicyName;

    public bool UsesPrefixOverlap => false;

    public PlacementChoice Choose(PlacementContext context)
    {
        var eligible = context.Eligible();
        var best = eligible[0];
        for (var i = 1; i < eligible.Count; i++)
        {
            var c = eligible[i];
            var order = c.InFlight.CompareTo(best.InFlight);
            if (order == 0) order = c.LoadTokens.CompareTo(best.LoadTokens);
            if (order == 0) order = c.Placements.CompareTo(best.Placements);
            if (order < 0) best = c;
        }
        return new PlacementChoice(best.WorkerId, best.InFlight, best.CachedBlocks);
    }
}
