using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.TestingHost;
using OrleansInference.Grains.Hosting;
using OrleansInference.Grains.Tests.Cluster;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Tests.Failover;

/// <summary>
/// A cluster of its own per test (these tests kill silos): every silo serves the built-in model through a
/// <see cref="PacedEngine"/>, with fast failure detection (≈1 s).
/// </summary>
internal sealed class FailoverCluster : IAsyncDisposable
{
    private readonly List<PacedEngine> _engines = [];

    private FailoverCluster()
    {
    }

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IConductorGrain Conductor => Cluster.Client.GetGrain<IConductorGrain>(InferenceClusterFixture.Model);

    public static async Task<FailoverCluster> StartAsync(short silos, TimeSpan pace, Action<InferenceOptions>? configure = null)
    {
        var result = new FailoverCluster();
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IEngineFactory>(sp => new PacedEngineFactory(pace, result._engines, sp.GetRequiredService<ILocalSiloDetails>().SiloAddress));
            silo.AddInference(configure: o =>
            {
                InferenceClusterFixture.ConfigureInference(o);
                configure?.Invoke(o);
            });
            silo.Configure<ClusterMembershipOptions>(m =>
            {
                m.ProbeTimeout = TimeSpan.FromSeconds(1);
                m.NumMissedProbesLimit = 1;
                m.NumVotesForDeathDeclaration = 1;
            });
        });
        result.Cluster = builder.Build();
        await result.Cluster.DeployAsync();
        await result.WaitForWorkersAsync(silos, TimeSpan.FromSeconds(30));
        return result;
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

    /// <summary>A grain factory inside <paramref name="silo"/>: request grains it calls are placed there.</summary>
    public static IGrainFactory FactoryOf(InProcessSiloHandle silo) => silo.ServiceProvider.GetRequiredService<IGrainFactory>();

    public InProcessSiloHandle SiloOf(string workerId)
    {
        var silo = WorkerKey.Parse(workerId).Silo;
        return Cluster.Silos.Single(s => s.SiloAddress.Equals(silo));
    }

    public SiloAddress? HostOf(GrainId grain) =>
        Cluster.TryGetGrainContext(grain, out var context) ? context.Address.SiloAddress : null;

    /// <summary>
    /// Waits until every worker of a live silo is idle: nothing running or waiting, no KV block held by a sequence,
    /// no paced stream still forwarding, and the conductor counts nothing in flight.
    /// </summary>
    public async Task AssertNoLeaksAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var workers = await Conductor.GetWorkersAsync();
            var loads = await Task.WhenAll(workers.Select(w => Cluster.Client.GetGrain<IWorkerGrain>(w.Registration.WorkerId).GetLoadAsync()));
            var live = Cluster.Silos.Where(s => s.IsActive).Select(s => s.SiloAddress).ToHashSet();
            var pumping = LiveEngines(live).Sum(e => e.ActiveStreams);
            if (loads.All(l => l.Running == 0 && l.Waiting == 0 && l.UsedBlocks == 0) && pumping == 0 && workers.All(w => w.InFlight == 0))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Leaked: " + string.Join("; ", loads.Select(l => $"{l.WorkerId}: running {l.Running}, waiting {l.Waiting}, used {l.UsedBlocks}"))
                    + $"; paced streams {pumping}; in flight {string.Join(",", workers.Select(w => w.InFlight))}");
            }
            await Task.Delay(50);
        }
    }

    private IEnumerable<PacedEngine> LiveEngines(HashSet<SiloAddress> live)
    {
        lock (_engines)
        {
            return _engines.Where(e => live.Contains(e.Silo)).ToList();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }

    /// <summary>Creates the silo's engines over the built-in model, each wrapped in a <see cref="PacedEngine"/>.</summary>
    private sealed class PacedEngineFactory(TimeSpan pace, List<PacedEngine> all, SiloAddress silo) : IEngineFactory
    {
        public EngineSet Create(InferenceOptions options, int count)
        {
            var set = new ModelEngineFactory(NullLoggerFactory.Instance).Create(options, count);
            var paced = set.Engines.Select(e => new PacedEngine(e, pace, silo)).ToList();
            lock (all)
            {
                all.AddRange(paced);
            }
            return new EngineSet(paced, new SetOwner(set));
        }
    }

    private sealed class SetOwner(EngineSet set) : IDisposable
    {
        public void Dispose() => set.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
