using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// A one-silo cluster on loopback TCP plus a separate Orleans client host connected to its gateway — the same
/// wiring as a silo process and an external client, in one process.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private readonly IHost _silo;
    private readonly IHost _client;

    private LocalCluster(IHost silo, IHost client)
    {
        _silo = silo;
        _client = client;
    }

    public IClusterClient Client => _client.Services.GetRequiredService<IClusterClient>();

    public IServiceProvider SiloServices => _silo.Services;

    public static async Task<LocalCluster> StartAsync(Action<InferenceOptions> configure, int expectedWorkers)
    {
        var siloPort = FreePort();
        var gatewayPort = FreePort();
        var clusterId = "bench-" + Guid.NewGuid().ToString("N")[..8];
        var silo = Host.CreateDefaultBuilder()
            .ConfigureLogging(l => l.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning))
            .UseOrleans(s => s
                .UseLocalhostClustering(siloPort, gatewayPort, serviceId: clusterId, clusterId: clusterId)
                .AddInference(configure: configure))
            .Build();
        await silo.StartAsync();
        var client = Host.CreateDefaultBuilder()
            .ConfigureLogging(l => l.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning))
            .UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort, serviceId: clusterId, clusterId: clusterId))
            .Build();
        await client.StartAsync();
        var cluster = new LocalCluster(silo, client);
        await cluster.WaitForWorkersAsync(expectedWorkers);
        return cluster;
    }

    private async Task WaitForWorkersAsync(int count)
    {
        var conductor = Client.GetGrain<IConductorGrain>("builtin");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await conductor.GetWorkersAsync()).Count(w => w.Load is not null) < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{count} workers did not register.");
            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _client.StopAsync();
        _client.Dispose();
        await _silo.StopAsync();
        _silo.Dispose();
    }
}

/// <summary>Small statistics helpers.</summary>
internal static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = p / 100.0 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
