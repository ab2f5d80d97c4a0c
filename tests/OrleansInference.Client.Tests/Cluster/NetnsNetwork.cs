using System.Globalization;
using System.Net;
using Xunit.Sdk;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>A host of a <see cref="NetnsNetwork"/>: a network namespace with one address, linked to the bridge by a veth pair.</summary>
public sealed record NetnsHost(string Namespace, string Link, IPAddress Address);

/// <summary>
/// Test hosts on this machine: one network namespace per host, joined by a bridge whose own address (in this, the
/// test's, namespace) serves Redis and the test's HTTP calls. Taking a host's link down partitions it from everyone.
/// The namespaces get no default route, so nothing they send leaves the machine. Needs root (<c>ip netns add</c>);
/// tests are skipped, with the reason, where that is refused.
/// </summary>
public sealed class NetnsNetwork : IAsyncDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private readonly List<NetnsHost> _hosts = [];
    private readonly string _id;
    private readonly string _subnetPrefix;

    private NetnsNetwork(string id, string subnetPrefix)
    {
        _id = id;
        _subnetPrefix = subnetPrefix;
        Bridge = "oib-" + id;
        BridgeAddress = IPAddress.Parse(subnetPrefix + ".1");
    }

    /// <summary>Name of the bridge.</summary>
    public string Bridge { get; }

    /// <summary>Address of the bridge, reachable from every host (bind Redis here).</summary>
    public IPAddress BridgeAddress { get; }

    /// <summary>The hosts added so far.</summary>
    public IReadOnlyList<NetnsHost> Hosts => _hosts;

    /// <summary>Creates the bridge, or skips the calling test when network namespaces cannot be made here.</summary>
    public static async Task<NetnsNetwork> CreateAsync(CancellationToken cancellationToken = default)
    {
        if (!OperatingSystem.IsLinux() || ClusterTestPaths.FindOnPath("ip") is null)
        {
            throw SkipException.ForSkip("network namespaces need Linux with iproute2 (ip)");
        }
        var id = Guid.NewGuid().ToString("N")[..6];
        var probe = await ExternalCommand.RunAsync("ip", ["netns", "add", "oi-probe-" + id], CommandTimeout, cancellationToken);
        if (probe.ExitCode != 0)
        {
            throw SkipException.ForSkip($"cannot create network namespaces here (needs root): {probe.Output.Trim()}");
        }
        await ExternalCommand.RunAsync("ip", ["netns", "del", "oi-probe-" + id], CommandTimeout, cancellationToken);

        var network = new NetnsNetwork(id, await FreeSubnetAsync(cancellationToken));
        try
        {
            await network.IpAsync(cancellationToken, "link", "add", network.Bridge, "type", "bridge");
            await network.IpAsync(cancellationToken, "addr", "add", network.BridgeAddress + "/24", "dev", network.Bridge);
            await network.IpAsync(cancellationToken, "link", "set", network.Bridge, "up");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    // A /24 in 10.231-10.239.x not routed here yet (the test's own hosts; several tests may run at once).
    private static async Task<string> FreeSubnetAsync(CancellationToken cancellationToken)
    {
        var routes = (await ExternalCommand.RunCheckedAsync("ip", ["-4", "route", "show"], CommandTimeout, cancellationToken));
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var prefix = string.Create(CultureInfo.InvariantCulture, $"10.{Random.Shared.Next(231, 240)}.{Random.Shared.Next(1, 255)}");
            if (!routes.Contains(prefix + ".", StringComparison.Ordinal))
            {
                return prefix;
            }
        }
        throw new InvalidOperationException("no free 10.231-239.x.0/24 subnet for test hosts");
    }

    /// <summary>Adds a host: a namespace with loopback up and one address on the bridge.</summary>
    public async Task<NetnsHost> AddHostAsync(CancellationToken cancellationToken = default)
    {
        var index = _hosts.Count + 1;
        var suffix = _id + "-" + index.ToString(CultureInfo.InvariantCulture);
        var host = new NetnsHost("oi-" + suffix, "oiv" + suffix, IPAddress.Parse(string.Create(CultureInfo.InvariantCulture, $"{_subnetPrefix}.{10 + index}")));
        await IpAsync(cancellationToken, "netns", "add", host.Namespace);
        _hosts.Add(host);
        await IpAsync(cancellationToken, "link", "add", host.Link, "type", "veth", "peer", "name", "eth0", "netns", host.Namespace);
        await IpAsync(cancellationToken, "link", "set", host.Link, "master", Bridge, "up");
        await IpAsync(cancellationToken, "-n", host.Namespace, "addr", "add", host.Address + "/24", "dev", "eth0");
        await IpAsync(cancellationToken, "-n", host.Namespace, "link", "set", "lo", "up");
        await IpAsync(cancellationToken, "-n", host.Namespace, "link", "set", "eth0", "up");
        return host;
    }

    /// <summary>Cuts the host off: its link to the bridge goes down. Its processes keep running.</summary>
    public Task DisconnectAsync(NetnsHost host, CancellationToken cancellationToken = default) =>
        IpAsync(cancellationToken, "link", "set", host.Link, "down");

    /// <summary>Heals the partition of <see cref="DisconnectAsync"/>.</summary>
    public Task ReconnectAsync(NetnsHost host, CancellationToken cancellationToken = default) =>
        IpAsync(cancellationToken, "link", "set", host.Link, "up");

    private Task IpAsync(CancellationToken cancellationToken, params string[] arguments) =>
        ExternalCommand.RunCheckedAsync("ip", arguments, CommandTimeout, cancellationToken);

    /// <summary>Deletes the veth pairs, the namespaces and the bridge. Stop their processes first.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            // Deleting the namespace alone can leave the bridge's end of the pair behind.
            await ExternalCommand.RunAsync("ip", ["link", "del", host.Link], CommandTimeout, CancellationToken.None);
            await ExternalCommand.RunAsync("ip", ["netns", "del", host.Namespace], CommandTimeout, CancellationToken.None);
        }
        await ExternalCommand.RunAsync("ip", ["link", "del", Bridge], CommandTimeout, CancellationToken.None);
    }
}
