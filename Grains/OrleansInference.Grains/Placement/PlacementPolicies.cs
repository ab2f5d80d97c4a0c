namespace OrleansInference.Grains.Placement;

/// <summary>Creates placement policies by name.</summary>
public static class PlacementPolicies
{
    /// <summary>Names of the built-in policies.</summary>
    public static IReadOnlyList<string> Names { get; } = [CacheAwarePolicy.PolicyName, LeastLoadedPolicy.PolicyName, RoundRobinPolicy.PolicyName];

    /// <summary>A fresh policy instance; throws <see cref="InferenceException"/> (InvalidRequest) for an unknown name.</summary>
    public static IPlacementPolicy Create(string name, CacheAwareOptions? cacheAware = null) => name switch
    {
        CacheAwarePolicy.PolicyName => new CacheAwarePolicy(cacheAware ?? new CacheAwareOptions()),
        LeastLoadedPolicy.PolicyName => new LeastLoadedPolicy(),
        RoundRobinPolicy.PolicyName => new RoundRobinPolicy(),
        _ => throw new InferenceException(InferenceErrorCode.InvalidRequest,
            $"Unknown placement policy '{name}'; expected one of: {string.Join(", ", Names)}.", "policy"),
    };
}
