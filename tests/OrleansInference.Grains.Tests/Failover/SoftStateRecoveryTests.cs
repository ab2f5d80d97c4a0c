using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains.KvIndex;
using OrleansInference.Grains.Workers;
using OrleansInference.Grains.Tests.Cluster;
using OrleansInference.Native.Kv;
using OrleansInference.Tests.Shared;

namespace OrleansInference.Grains.Tests.Failover;

/// <summary>The conductor and the KV index lose their activations; they rebuild from the live workers.</summary>
public sealed class SoftStateRecoveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly int Shards = new Hosting.InferenceOptions().KvIndexShards;

    [Fact]
    public async Task After_the_conductors_silo_is_killed_the_registry_and_the_index_rebuild_and_placement_works()
    {
        await using var cluster = await FailoverCluster.StartAsync(3, TimeSpan.Zero);
        var client = cluster.Cluster.Client;
        await client.GetGrain<IConductorGrain>(InferenceClusterFixture.Model).GetWorkersAsync();
        var conductorSilo = cluster.HostOf(cluster.Conductor.GetGrainId())!;

        // Cache a prompt on a worker that will survive (placement by load spreads these across workers).
        (int[] Prompt, string Worker)? cached = null;
        for (var i = 0; i < 9 && cached is null; i++)
        {
            var prompt = InferenceClusterFixture.PromptIds(100 + i, 96);
            var (_, chunks) = await StreamReading.ReadAllAsync(client.GetGrain<IRequestGrain>($"warm-{i}")
                .GenerateAsync(WorkerFailoverTests.Request(prompt, 2, sampled: false), null, Ct), Ct);
            if (!cluster.SiloOf(chunks[0].WorkerId!).SiloAddress.Equals(conductorSilo))
            {
                cached = (prompt, chunks[0].WorkerId!);
            }
        }
        Assert.NotNull(cached);
        var hashes = BlockHasher.HashBlocks(cached.Value.Prompt, 16, BlockHasher.Root(InferenceClusterFixture.Model));

        await cluster.Cluster.KillSiloAsync(cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(conductorSilo)), Ct);

        // Within the detection time plus a load-report interval the survivors are registered again, and only they.
        var workers = await cluster.WaitForWorkersAsync(2, InferenceClusterFixture.Settle);
        Assert.DoesNotContain(workers, w => w.Registration.Silo == conductorSilo.ToParsableString());
        Assert.NotEqual(conductorSilo, cluster.HostOf(cluster.Conductor.GetGrainId()));
        // A reactivated conductor tells no worker it is alone while its registry is rebuilt (two report intervals), so the
        // placement checked below is the conductor's; no survivor may believe it is the sole worker.
        await Eventually.TrueAsync(() => Task.FromResult(cluster.Cluster.Silos
            .Where(s => !s.SiloAddress.Equals(conductorSilo))
            .SelectMany(s => s.ServiceProvider.GetRequiredService<EngineHost>().Workers)
            .All(w => !w.IsSoleWorker)), "no surviving worker believes it is the sole worker", Ct, seconds: 10);

        // Every index shard knows the survivor's blocks again, though that worker produced no KV event since.
        await Eventually.TrueAsync(async () => (await HoldersAsync(client, hashes)).All(h => h.Contains(cached.Value.Worker)),
            "every index shard lists the survivor's blocks", Ct, seconds: 10);

        // The same after the index alone loses every shard activation.
        for (var s = 0; s < Shards; s++)
        {
            await cluster.Cluster.DeactivateAsync(client.GetGrain<IKvIndexGrain>(KvShards.Key(InferenceClusterFixture.Model, s)));
        }
        await Eventually.TrueAsync(async () => (await HoldersAsync(client, hashes)).All(h => h.Contains(cached.Value.Worker)),
            "every index shard lists the survivor's blocks", Ct, seconds: 10);

        // Placement works and finds the cached prefix on its worker.
        var (tokens, after) = await StreamReading.ReadAllAsync(client.GetGrain<IRequestGrain>("after-conductor-loss")
            .GenerateAsync(WorkerFailoverTests.Request([.. cached.Value.Prompt, 7, 8, 9], 3, sampled: false), null, Ct), Ct);
        Assert.Equal(3, tokens[0].Count);
        Assert.Equal(cached.Value.Worker, after[0].WorkerId);
        Assert.True(after[^1].Usage!.CachedPromptTokens >= 96, $"cached {after[^1].Usage!.CachedPromptTokens}");
    }

    private static async Task<List<IReadOnlyList<string>>> HoldersAsync(IClusterClient client, ulong[] hashes)
    {
        var result = new List<IReadOnlyList<string>>();
        foreach (var h in hashes)
        {
            var found = await client.GetGrain<IKvIndexGrain>(KvShards.Key(InferenceClusterFixture.Model, KvShards.ShardOf(h, Shards))).LookupAsync([h]);
            result.Add(found.TryGetValue(h, out var w) ? w : []);
        }
        return result;
    }
}
