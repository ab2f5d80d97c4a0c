using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;
using OrleansInference.Grains.Hosting;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>
/// An in-process cluster of silos, each serving the built-in model with one CPU worker (small KV pool, one thread),
/// shared by the tests of a class. Ready once every worker has registered with the conductor.
/// </summary>
public class InferenceClusterFixture : IAsyncLifetime
{
    public const string Model = "builtin";
    public const int KvBlocks = 192;

    /// <summary>
    /// How long the tests wait for the cluster to settle (workers registered or gone, requests drained, blocks freed).
    /// These are liveness waits that return as soon as the state holds; CI runs every test project at once on two
    /// cores, where membership changes and load reports can take several times as long as on an idle machine.
    /// </summary>
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(30);

    protected virtual short Silos => 3;

    /// <summary>Workers the cluster has once every silo has started (one per silo unless a fixture says otherwise).</summary>
    protected virtual int ExpectedWorkers => Silos;

    /// <summary>Per-silo changes to <see cref="ConfigureInference"/> (e.g. a silo that serves no model).</summary>
    protected virtual void ConfigureSilo(string siloName, InferenceOptions options)
    {
    }

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public IConductorGrain Conductor => Client.GetGrain<IConductorGrain>(Model);

    public static void ConfigureInference(InferenceOptions o)
    {
        o.Model = Model;
        o.Engine.NumBlocks = KvBlocks;
        o.Engine.CpuThreads = 1;
        o.Engine.MaxModelLength = 2048;
        o.LoadReportInterval = TimeSpan.FromMilliseconds(200);
        o.DetachedRequestGrace = TimeSpan.FromMilliseconds(300);
    }

    public async ValueTask InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(Silos);
        builder.ConfigureSilo((siloOptions, silo) =>
        {
            silo.AddInference(configure: o =>
            {
                ConfigureInference(o);
                ConfigureSilo(siloOptions.SiloName, o);
            });
            silo.Configure<ClusterMembershipOptions>(m =>
            {
                m.ProbeTimeout = TimeSpan.FromSeconds(1);
                m.NumMissedProbesLimit = 1;
                m.NumVotesForDeathDeclaration = 1;
            });
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        await WaitForWorkersAsync(ExpectedWorkers, TimeSpan.FromSeconds(30));
    }

    public async Task<IReadOnlyList<WorkerInfo>> WaitForWorkersAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var workers = await Conductor.GetWorkersAsync();
            if (workers.Count == count && workers.All(w => w.Load is not null))
            {
                return workers;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected {count} registered workers, have {workers.Count}.");
            }
            await Task.Delay(50);
        }
    }

    /// <summary>Loads of every worker, straight from the worker grains.</summary>
    public async Task<IReadOnlyList<WorkerLoad>> LoadsAsync()
    {
        var workers = await Conductor.GetWorkersAsync();
        return await Task.WhenAll(workers.Select(w => Client.GetGrain<IWorkerGrain>(w.Registration.WorkerId).GetLoadAsync()));
    }

    /// <summary>Waits until no worker runs or queues anything and no block is held by a sequence.</summary>
    public async Task WaitForIdleWorkersAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var loads = await LoadsAsync();
            if (loads.All(l => l.Running == 0 && l.Waiting == 0 && l.FreeBlocks == l.TotalBlocks))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Workers still busy: " + string.Join("; ", loads.Select(l =>
                    $"{l.WorkerId}: running {l.Running}, waiting {l.Waiting}, used {l.TotalBlocks - l.FreeBlocks}")));
            }
            await Task.Delay(50);
        }
    }

    /// <summary>A standalone engine like the cluster's (for comparing outputs).</summary>
    public static InferenceEngine StandaloneEngine(LoadedModel model)
    {
        var options = new InferenceOptions();
        ConfigureInference(options);
        return InferenceEngine.Create(model, options.Engine);
    }

    /// <summary>Deterministic prompt ids below GPT-2's EOS.</summary>
    public static int[] PromptIds(int seed, int length)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => r.Next(50_000)).ToArray();
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>Reading a request's stream into per-sample token lists.</summary>
public static class StreamReading
{
    public static async Task<(Dictionary<int, List<int>> Tokens, List<TokenChunk> Chunks)> ReadAllAsync(
        IAsyncEnumerable<TokenChunk> stream, CancellationToken ct = default)
    {
        var tokens = new Dictionary<int, List<int>>();
        var chunks = new List<TokenChunk>();
        await foreach (var c in stream.WithCancellation(ct))
        {
            chunks.Add(c);
            if (!tokens.TryGetValue(c.Index, out var list)) tokens[c.Index] = list = [];
            Assert.Equal(list.Count, c.Offset);
            list.AddRange(c.TokenIds);
        }
        return (tokens, chunks);
    }
}
