namespace OrleansInference.Grains.Placement;

/// <summary>Tuning of the <c>cache-aware</c> placement policy (section <c>Inference:CacheAware</c>).</summary>
public sealed class CacheAwareOptions
{
    /// <summary>
    /// Weight α of a worker's queued + running load (tokens) against the prompt tokens it would compute. Below 1
    /// because a hit saves compute for the whole cluster while load only delays this request; tuned on the routing
    /// benchmark (at 1, a request following its prefix onto a worker still computing that prefix went elsewhere and
    /// recomputed it). The balance guard, not α, is what stops a hot prefix from overloading one worker.
    /// </summary>
    public double Alpha { get; set; } = 0.25;

    /// <summary>Balance guard: tolerated excess of a worker's in-flight count over the mean, as a fraction of the mean.</summary>
    public double Slack { get; set; } = 0.5;

    /// <summary>Balance guard: tolerated excess in requests on top of <see cref="Slack"/> (keeps small counts from tripping it).</summary>
    public double GuardConstant { get; set; } = 2;

    /// <summary>Tokens of load counted per in-flight request (its decode work) on top of the pending prompt tokens.</summary>
    public int DecodeTokenWeight { get; set; } = 16;

    /// <summary>
    /// How long the conductor trusts its own record of what it routed where (before the worker's KV events reach the
    /// index, and after: until the blocks may have been evicted).
    /// </summary>
    public TimeSpan RoutedRecordTtl { get; set; } = TimeSpan.FromSeconds(30);
}
