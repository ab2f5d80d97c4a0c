namespace OrleansInference.Grains.Placement;

/// <summary>Cycles through the eligible workers in worker-id order, ignoring cache and load.</summary>
internal sealed class RoundRobinPolicy : IPlacementPolicy
{
    public const string PolicyName = "round-robin";
    private long _next;

    public string Name => PolicyName;

    public bool UsesPrefixOverlap => false;

    public PlacementChoice Choose(PlacementContext context)
    {
        var eligible = context.Eligible();
        var pick = eligible[(int)(_next++ % eligible.Count)];
        return new PlacementChoice(pick.WorkerId, pick.InFlight, pick.CachedBlocks);
    }
}
