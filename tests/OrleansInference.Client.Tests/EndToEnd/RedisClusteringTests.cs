using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Client.Tests.Infrastructure;
using OrleansInference.Grains;

namespace OrleansInference.Client.Tests.EndToEnd;

/// <summary>A silo and an SDK client that find each other through Redis membership (Orleans:Redis / Redis option).</summary>
public sealed class RedisClusterFixture : ClusterFixture
{
    private RedisServer? _redis;

    public bool Available { get; private set; } = true;

    protected override async Task<string?> StartMembershipAsync(CancellationToken cancellationToken)
    {
        _redis = await RedisServer.TryStartAsync(FreePorts(1)[0], cancellationToken);
        Available = _redis is not null;
        // Without redis-server the fixture falls back to localhost clustering; the test then skips.
        return _redis?.ConnectionString;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}

public sealed class RedisClusteringTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task Requests_flow_through_a_redis_clustered_silo()
    {
        if (!cluster.Available)
        {
            Assert.Skip("redis-server is not installed (apt-get install redis-server).");
        }
        var sdk = cluster.Client.GetRequiredService<OrleansInferenceClient>();
        var result = await sdk.CompleteAsync(new InferenceRequest
        {
            Model = "builtin",
            Prompt = "Redis",
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 3, IgnoreEos = true },
        }, TestContext.Current.CancellationToken);
        Assert.Equal(3, result.Choices[0].TokenIds.Count);
        Assert.Equal(3, result.Usage!.CompletionTokens);
    }
}
