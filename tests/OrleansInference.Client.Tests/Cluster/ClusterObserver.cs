using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;
using StackExchange.Redis;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// An Orleans client that watches a test cluster's membership through the management grain: which silos the cluster
/// itself considers active.
/// </summary>
public sealed class ClusterObserver : IAsyncDisposable
{
    private readonly IHost _host;

    private ClusterObserver(IHost host) => _host = host;

    /// <summary>The client.</summary>
    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects through the gateways listed in Redis (silos on this machine or in its network namespaces).</summary>
    public static Task<ClusterObserver> ConnectThroughRedisAsync(string redis, string clusterId, string serviceId, CancellationToken cancellationToken) =>
        ConnectAsync(client => client.UseRedisClustering(o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis)),
            clusterId, serviceId, cancellationToken);

    /// <summary>
    /// Connects through fixed gateways (containers' gateways published on loopback, whose own addresses are not for
    /// the test to use).
    /// </summary>
    public static Task<ClusterObserver> ConnectThroughGatewaysAsync(IReadOnlyList<IPEndPoint> gateways, string clusterId, string serviceId,
        CancellationToken cancellationToken) =>
        ConnectAsync(client => client.UseStaticClustering([.. gateways]), clusterId, serviceId, cancellationToken);

    private static async Task<ClusterObserver> ConnectAsync(Action<IClientBuilder> clustering, string clusterId, string serviceId,
        CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder();
        // Connection resets from killed silos are expected here.
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.UseOrleansClient(client =>
        {
            clustering(client);
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return new ClusterObserver(host);
    }

    /// <summary>Silo-to-silo endpoints of the silos membership lists as active.</summary>
    public async Task<IReadOnlyList<IPEndPoint>> ActiveSilosAsync()
    {
        var hosts = await Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        return hosts.Keys.Select(s => s.Endpoint).ToList();
    }

    /// <summary>
    /// Waits until membership lists exactly <paramref name="expected"/> as active and returns how long that took; throws
    /// with the last view when <paramref name="timeout"/> passes first.
    /// </summary>
    public async Task<TimeSpan> WaitForActiveSilosAsync(IReadOnlyCollection<IPEndPoint> expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<IPEndPoint> last = [];
        while (true)
        {
            try
            {
                last = await ActiveSilosAsync();
                if (last.Count == expected.Count && expected.All(last.Contains))
                {
                    return clock.Elapsed;
                }
            }
            catch (Exception ex) when (ex is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException
                                           or ConnectionFailedException)
            {
                // The call went to the silo being killed: ask again.
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException(
                    $"membership still lists [{string.Join(", ", last)}] after {timeout}, expected [{string.Join(", ", expected)}]");
            }
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Stops the client.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }
}
