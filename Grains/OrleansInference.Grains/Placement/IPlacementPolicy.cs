namespace OrleansInference.Grains.Placement;

/// <summary>
/// Chooses the worker for a request among live candidates. Implementations may keep state (e.g. a round-robin
/// cursor) but must be deterministic: the same sequence of contexts gives the same sequence of choices.
/// </summary>
public interface IPlacementPolicy
{
    /// <summary>Name used in configuration, metrics and <see cref="PlacementDecision.Policy"/>.</summary>
    string Name { get; }

    /// <summary>Whether the policy reads <see cref="PlacementCandidate.CachedBlocks"/> (so the caller knows whether to compute it).</summary>
    bool UsesPrefixOverlap { get; }

    /// <summary>
    /// Picks one candidate that is not in <see cref="PlacementContext.Excluded"/>. Throws
    /// <see cref="InferenceException"/> (<see cref="InferenceErrorCode.Unavailable"/>) when there is none.
    /// </summary>
    PlacementChoice Choose(PlacementContext context);
}

/// <summary>A live worker as seen by a placement policy.</summary>
/// <param name="WorkerId">Worker grain key.</param>
/// <param name="CachedBlocks">Length of the leading run of the prompt's blocks already cached on the worker.</param>
/// <param name="InFlight">Requests placed on the worker and not yet completed.</param>
/// <param name="LoadTokens">Queued and running work on the worker, in tokens (see the conductor for the estimate).</param>
/// <param name="Placements">Requests ever placed on the worker by this conductor (a tie-breaker that spreads work).</param>
public sealed record PlacementCandidate(string WorkerId, int CachedBlocks, int InFlight, long LoadTokens, long Placements)
{
    /// <summary>
    /// Distinct prefixes (prompts' first blocks) this conductor routed to the worker recently (within
    /// <see cref="CacheAwareOptions.RoutedRecordTtl"/>): how much of its cache recent routing has committed.
    /// </summary>
    public int RecentPrefixes { get; init; }
}

/// <summary>What a policy knows about one placement.</summary>
/// <param name="RequestId">Request id (diagnostics).</param>
/// <param name="PromptTokens">Prompt length in tokens.</param>
/// <param name="BlockSize">Tokens per KV block.</param>
/// <param name="Candidates">Registered workers of the wanted role.</param>
/// <param name="Excluded">Workers that must not be chosen.</param>
public sealed record PlacementContext(
    string RequestId,
    int PromptTokens,
    int BlockSize,
    IReadOnlyList<PlacementCandidate> Candidates,
    IReadOnlyCollection<string> Excluded)
{
    /// <summary>Candidates not excluded, ordered by worker id (so the result never depends on input order).</summary>
    public IReadOnlyList<PlacementCandidate> Eligible()
    {
        var excluded = Excluded.Count == 0 ? null : Excluded as IReadOnlySet<string> ?? new HashSet<string>(Excluded, StringComparer.Ordinal);
        var list = new List<PlacementCandidate>(Candidates.Count);
        foreach (var c in Candidates)
        {
            if (excluded is null || !excluded.Contains(c.WorkerId))
            {
                list.Add(c);
            }
        }
        if (list.Count == 0)
        {
            throw new InferenceException(InferenceErrorCode.Unavailable,
                Candidates.Count == 0 ? "No live worker serves this model." : "Every live worker was excluded for this request.");
        }
        list.Sort(static (a, b) => string.CompareOrdinal(a.WorkerId, b.WorkerId));
        return list;
    }

    /// <summary>Prompt tokens that must be computed on a worker with <paramref name="cachedBlocks"/> leading blocks cached.</summary>
    public long UncachedTokens(int cachedBlocks) => Math.Max(0, PromptTokens - (long)cachedBlocks * BlockSize);
}

/// <summary>A policy's answer.</summary>
/// <param name="WorkerId">The chosen worker.</param>
/// <param name="Cost">The policy's cost for it (policy-specific units; lower is better).</param>
/// <param name="CachedBlocks">Leading cached blocks on it.</param>
public readonly record struct PlacementChoice(string WorkerId, double Cost, int CachedBlocks);
