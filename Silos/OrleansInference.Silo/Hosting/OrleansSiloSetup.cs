using System.Net;
using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansInference.Grains.Hosting;
using StackExchange.Redis;

namespace OrleansInference.Silo.Hosting;

/// <summary>Configures the Orleans silo of the host from the <c>Orleans</c> and <c>Inference</c> sections.</summary>
internal static class OrleansSiloSetup
{
    public static void AddInferenceSilo(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var options = configuration.GetSection(OrleansHostingOptions.SectionName).Get<OrleansHostingOptions>() ?? new OrleansHostingOptions();
        builder.Services.Configure<OrleansHostingOptions>(configuration.GetSection(OrleansHostingOptions.SectionName));

        if (!string.IsNullOrWhiteSpace(options.Redis))
        {
            // Before UseOrleans: hosted services start in registration order, and Orleans' providers connect at once.
            if (options.RedisStartupTimeout <= TimeSpan.Zero)
            {
                throw new SiloConfigurationException($"Orleans:RedisStartupTimeout must be positive (got {options.RedisStartupTimeout}).");
            }

            string redisConnection = options.Redis;
            var timeout = options.RedisStartupTimeout;
            builder.Services.AddHostedService(sp => new RedisStartupWait(redisConnection, timeout, sp.GetRequiredService<ILogger<RedisStartupWait>>()));
        }

        builder.UseOrleans(silo =>
        {
            if (!string.IsNullOrWhiteSpace(options.Redis))
            {
                var redis = ConfigurationOptions.Parse(options.Redis);
                silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
                // Request checkpoints outlive any silo only in shared storage (AddInference falls back to memory).
                // A finished request's checkpoint is cleared when its grain lets the output go (Inference:FinishedRequestTtl).
                silo.AddRedisGrainStorage(InferenceSiloExtensions.RequestCheckpointStorageName, o => o.ConfigurationOptions = redis);
                ConfigureEndpoints(silo, options);
            }
            else
            {
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, PrimarySilo(options.PrimarySiloEndpoint), options.ServiceId, options.ClusterId);
            }
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                var m = options.Membership;
                if (m.ProbeTimeout is { } probe) o.ProbeTimeout = probe;
                if (m.NumMissedProbesLimit is { } missed) o.NumMissedProbesLimit = missed;
                if (m.NumVotesForDeathDeclaration is { } votes) o.NumVotesForDeathDeclaration = votes;
            });
            silo.AddDashboard();
            silo.AddInference(configuration);
        });
    }

    private static void ConfigureEndpoints(ISiloBuilder silo, OrleansHostingOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.AdvertisedHost))
        {
            silo.ConfigureEndpoints(options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: options.ListenOnAnyHostAddress);
            return;
        }
        var address = IPAddress.TryParse(options.AdvertisedHost, out var ip)
            ? ip
            : Dns.GetHostAddresses(options.AdvertisedHost).FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
              ?? throw new InvalidOperationException($"Orleans:AdvertisedHost '{options.AdvertisedHost}' does not resolve to an IPv4 address.");
        silo.ConfigureEndpoints(address, options.SiloPort, options.GatewayPort, options.ListenOnAnyHostAddress);
    }

    private static IPEndPoint? PrimarySilo(string? endpoint)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            return null;
        }
        return IPEndPoint.TryParse(endpoint, out var parsed)
            ? parsed
            : throw new InvalidOperationException($"Orleans:PrimarySiloEndpoint '{endpoint}' is not an address:port endpoint.");
    }
}
