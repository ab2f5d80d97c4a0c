using OrleansInference.Tests.Shared;
using System.Globalization;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>How to start one silo process: its cluster, addresses and configuration.</summary>
public sealed record SiloProcessOptions
{
    /// <summary>Name in logs and failure messages (e.g. <c>silo2</c>).</summary>
    public required string Name { get; init; }

    /// <summary>StackExchange.Redis connection string of the membership store (<c>Orleans:Redis</c>).</summary>
    public required string Redis { get; init; }

    /// <summary>Cluster id shared by the silos of one test.</summary>
    public required string ClusterId { get; init; }

    /// <summary>Service id.</summary>
    public string ServiceId { get; init; } = "orleans-inference-tests";

    /// <summary>Address the silo listens and is reached at (loopback, or its namespace's address).</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Silo-to-silo port.</summary>
    public required int SiloPort { get; init; }

    /// <summary>Gateway port for SDK clients.</summary>
    public required int GatewayPort { get; init; }

    /// <summary>HTTP port.</summary>
    public required int HttpPort { get; init; }

    /// <summary>Network namespace to run in (<c>ip netns exec</c>); null runs in this one.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// Declare a dead silo in about a second (probe timeout 1 s, one missed probe, one vote) rather than Orleans'
    /// ten-second defaults.
    /// </summary>
    public bool FastFailureDetection { get; init; } = true;

    /// <summary>How long to wait for <c>/v2/health/ready</c>.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Further configuration keys (<c>Section:Key</c>, e.g. <c>Inference:Engine:NumBlocks</c>), passed as environment
    /// variables. The defaults keep a test silo small: one engine thread, 256 KV blocks, the built-in model.
    /// </summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>
    {
        ["Inference:Model"] = "builtin",
        ["Inference:Engine:Device"] = "cpu",
        ["Inference:Engine:CpuThreads"] = "1",
        ["Inference:Engine:NumBlocks"] = "256",
    };

    /// <summary>Options for a silo on loopback with free ports.</summary>
    public static SiloProcessOptions OnLoopback(string name, string redis, string clusterId)
    {
        var ports = FreeTcpPorts.Take(3);
        return new SiloProcessOptions
        {
            Name = name, Redis = redis, ClusterId = clusterId, SiloPort = ports[0], GatewayPort = ports[1], HttpPort = ports[2],
        };
    }

    /// <summary>Options for a silo alone in <paramref name="host"/>'s network namespace (fixed ports: the address is its own).</summary>
    public static SiloProcessOptions InNamespace(string name, NetnsHost host, string redis, string clusterId) => new()
    {
        Name = name, Redis = redis, ClusterId = clusterId, Host = host.Address.ToString(), NetworkNamespace = host.Namespace,
        SiloPort = 11111, GatewayPort = 30000, HttpPort = 8000,
    };

    /// <summary>The environment variables that carry this configuration (<c>__</c> separates sections).</summary>
    internal Dictionary<string, string> Environment()
    {
        var env = new Dictionary<string, string>
        {
            ["Orleans__Redis"] = Redis,
            ["Orleans__ClusterId"] = ClusterId,
            ["Orleans__ServiceId"] = ServiceId,
            ["Orleans__SiloPort"] = SiloPort.ToString(CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = GatewayPort.ToString(CultureInfo.InvariantCulture),
            ["Orleans__AdvertisedHost"] = Host,
            // Workstation GC: several silos share two cores with the test.
            ["DOTNET_gcServer"] = "0",
        };
        if (FastFailureDetection)
        {
            env["Orleans__Membership__ProbeTimeout"] = "00:00:01";
            env["Orleans__Membership__NumMissedProbesLimit"] = "1";
            env["Orleans__Membership__NumVotesForDeathDeclaration"] = "1";
        }
        foreach (var (key, value) in Settings)
        {
            env[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        return env;
    }
}
