using OrleansInference.Grains.KvIndex;
using OrleansInference.Native.Kv;
using OrleansInference.Tests.Shared;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>Registration rules, the soft-state handshake and the KV index fed by the workers' events.</summary>
public sealed class ControlPlaneTests(InferenceClusterFixture fixture) : IClassFixture<InferenceClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static WorkerRegistration Registration(string id, int blockSize = 16, int hashVersion = BlockHasher.Version) => new()
    {
        WorkerId = id,
        Silo = "127.0.0.1:1@1",
        Model = InferenceClusterFixture.Model,
        BlockSize = blockSize,
        HashVersion = hashVersion,
    };

    [Fact]
    public async Task RegistrationRejectsAnotherBlockSizeOrHashVersion()
    {
        var blockSize = await Assert.ThrowsAsync<InferenceException>(() => fixture.Conductor.RegisterWorkerAsync(Registration("odd-1", blockSize: 32)));
        Assert.Equal(InferenceErrorCode.InvalidRequest, blockSize.Code);
        Assert.Contains("32", blockSize.Message);
        var version = await Assert.ThrowsAsync<InferenceException>(() => fixture.Conductor.RegisterWorkerAsync(Registration("odd-2", hashVersion: BlockHasher.Version + 1)));
        Assert.Equal(InferenceErrorCode.InvalidRequest, version.Code);
        Assert.Contains("version", version.Message);
        Assert.Equal(3, (await fixture.Conductor.GetWorkersAsync()).Count);
    }

    [Fact]
    public async Task UnknownWorkersAreToldToRegister()
    {
        Assert.False((await fixture.Conductor.ReportLoadAsync(new WorkerLoad { WorkerId = "nobody" })).Known);
    }

    [Fact]
    public async Task WorkersReRegisterAfterTheConductorLosesItsState()
    {
        await fixture.Cluster.DeactivateAsync(fixture.Conductor);
        // The reactivated conductor knows nobody until the workers' next load reports (every 200 ms here).
        var workers = await fixture.WaitForWorkersAsync(3, InferenceClusterFixture.Settle);
        Assert.Equal(3, workers.Select(w => w.Registration.Silo).Distinct().Count());
    }

    [Fact]
    public async Task TheIndexLearnsFromKvEventsAndResynchronisesAfterAGap()
    {
        var prompt = InferenceClusterFixture.PromptIds(11, 160); // 10 full blocks
        var request = new InferenceRequest
        {
            Model = InferenceClusterFixture.Model,
            PromptTokenIds = prompt,
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 2, IgnoreEos = true },
        };
        string? worker = null;
        await foreach (var c in fixture.Client.GetGrain<IRequestGrain>("index-1").GenerateAsync(request, null, Ct))
        {
            worker = c.WorkerId;
        }
        var hashes = BlockHasher.HashBlocks(prompt, 16, BlockHasher.Root(InferenceClusterFixture.Model));
        var shards = new InferenceOptionsProbe().Shards;

        await Eventually.TrueAsync(async () => (await HoldersAsync(hashes, shards)).Count(h => h.Contains(worker!)) == hashes.Length,
            "every shard lists the worker's blocks", Ct, seconds: 5);

        var shard = KvShards.ShardOf(hashes[0], shards);
        var index = fixture.Client.GetGrain<IKvIndexGrain>(KvShards.Key(InferenceClusterFixture.Model, shard));
        await index.RemoveWorkerAsync(worker!);
        Assert.False((await index.LookupAsync([hashes[0]])).ContainsKey(hashes[0]));

        // A batch from a worker the shard does not know (or after a gap) makes the shard pull the worker's snapshot.
        var snapshot = await fixture.Client.GetGrain<IWorkerGrain>(worker!).GetKvSnapshotAsync();
        Assert.Contains(hashes[0], snapshot.BlockHashes);
        await index.ApplyAsync(new KvEventBatchDto(worker!, snapshot.Sequence, [], [], false) { FirstSequence = snapshot.Sequence });
        Assert.Contains(worker!, (await index.LookupAsync([hashes[0]]))[hashes[0]]);
    }

    private async Task<List<IReadOnlyList<string>>> HoldersAsync(ulong[] hashes, int shards)
    {
        var result = new List<IReadOnlyList<string>>();
        foreach (var h in hashes)
        {
            var found = await fixture.Client.GetGrain<IKvIndexGrain>(KvShards.Key(InferenceClusterFixture.Model, KvShards.ShardOf(h, shards))).LookupAsync([h]);
            result.Add(found.TryGetValue(h, out var w) ? w : []);
        }
        return result;
    }

    private sealed class InferenceOptionsProbe
    {
        public int Shards { get; } = new Hosting.InferenceOptions().KvIndexShards;
    }
}
