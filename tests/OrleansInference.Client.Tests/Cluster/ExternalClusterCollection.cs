using Xunit;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// Tests that start silo processes, network namespaces or the compose cluster run one at a time, after the parallel
/// tests: the two compose tests share one compose project (bringing one up removes the other's containers), and on
/// CI's two cores concurrent clusters would turn the chaos runs' recovery times into a measure of CPU contention.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExternalClusterCollection
{
    /// <summary>The collection's name, for <c>[Collection]</c>.</summary>
    public const string Name = "External cluster processes";
}
