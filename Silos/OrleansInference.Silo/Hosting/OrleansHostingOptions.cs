namespace OrleansInference.Silo.Hosting;

/// <summary>Orleans cluster settings of a silo, bound from configuration section <c>Orleans</c>.</summary>
public sealed class OrleansHostingOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Orleans";

    /// <summary>Cluster id; silos and clients of one deployment share it.</summary>
    public string ClusterId { get; set; } = "orleans-inference";

    /// <summary>Service id; stable across deployments of the same service.</summary>
    public string ServiceId { get; set; } = "orleans-inference";

    /// <summary>Port for silo-to-silo traffic.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port external Orleans clients (the SDK) connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// StackExchange.Redis connection string. When set, membership is kept in Redis (multi-silo, multi-host); otherwise
    /// the silo uses localhost clustering (development, single machine).
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>
    /// How long a silo with <see cref="Redis"/> set waits at start for that server to answer before it gives up
    /// (Redis may come up after the silos).
    /// </summary>
    public TimeSpan RedisStartupTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// With localhost clustering: the silo endpoint (<c>host:port</c>) of the primary silo a second silo on the same
    /// machine joins. Empty: this silo is the primary.
    /// </summary>
    public string? PrimarySiloEndpoint { get; set; }

    /// <summary>Address other silos and clients use to reach this one (IP or host name); empty: this host's address.</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Listen on all interfaces rather than only the advertised address (containers).</summary>
    public bool ListenOnAnyHostAddress { get; set; }

    /// <summary>Failure-detection tuning.</summary>
    public MembershipTuningOptions Membership { get; set; } = new();
}

/// <summary>
/// Membership failure-detection settings (<c>Orleans:Membership</c>); null keeps Orleans' defaults. With
/// <c>ProbeTimeout=00:00:01</c>, <c>NumMissedProbesLimit=1</c>, <c>NumVotesForDeathDeclaration=1</c> a killed silo is
/// declared dead in about a second instead of ten.
/// </summary>
public sealed class MembershipTuningOptions
{
    /// <summary>Time to wait for a probe reply.</summary>
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>Missed probes before a silo suspects another.</summary>
    public int? NumMissedProbesLimit { get; set; }

    /// <summary>Suspicions needed to declare a silo dead.</summary>
    public int? NumVotesForDeathDeclaration { get; set; }
}
