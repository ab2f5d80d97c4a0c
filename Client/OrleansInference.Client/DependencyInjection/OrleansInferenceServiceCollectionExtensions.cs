using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Hosting;
using OrleansInference.Client;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the OrleansInference SDK: an Orleans client, <see cref="OrleansInferenceClient"/> and an <see cref="IChatClient"/>.</summary>
public static class OrleansInferenceServiceCollectionExtensions
{
    /// <summary>
    /// Adds an Orleans client connected as <paramref name="configuration"/> says (the <c>OrleansInference</c> section's
    /// content: Gateways, Redis, ClusterId, ServiceId, DefaultModel, TokenIdleTimeout...) and <see cref="OrleansInferenceClient"/>.
    /// </summary>
    public static IServiceCollection AddOrleansInferenceClient(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.Get<OrleansInferenceClientOptions>() ?? new OrleansInferenceClientOptions();
        services.Configure<OrleansInferenceClientOptions>(configuration);
        return services.AddCore(options);
    }

    /// <summary>Adds an Orleans client and <see cref="OrleansInferenceClient"/> configured in code.</summary>
    public static IServiceCollection AddOrleansInferenceClient(this IServiceCollection services, Action<OrleansInferenceClientOptions> configure)
    {
        var options = new OrleansInferenceClientOptions();
        configure(options);
        services.Configure(configure);
        return services.AddCore(options);
    }

    /// <summary>
    /// Registers <see cref="OrleansInferenceChatClient"/> as the <see cref="IChatClient"/> (after
    /// <c>AddOrleansInferenceClient</c>); the returned builder adds middleware such as logging or telemetry.
    /// </summary>
    public static ChatClientBuilder AddOrleansInferenceChatClient(this IServiceCollection services, string? modelId = null) =>
        services.AddChatClient(sp => new OrleansInferenceChatClient(sp.GetRequiredService<OrleansInferenceClient>(), modelId));

    private static IServiceCollection AddCore(this IServiceCollection services, OrleansInferenceClientOptions options)
    {
        services.AddOrleansClient(client =>
        {
            if (!string.IsNullOrWhiteSpace(options.Redis))
            {
                var redis = ConfigurationOptions.Parse(options.Redis);
                client.UseRedisClustering(o => o.ConfigurationOptions = redis);
            }
            else if (options.Gateways.Count > 0)
            {
                client.UseStaticClustering(options.Gateways.Select(ParseGateway).ToArray());
            }
            else
            {
                client.UseLocalhostClustering(serviceId: options.ServiceId, clusterId: options.ClusterId);
            }
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
        });
        services.TryAddSingleton(sp => new OrleansInferenceClient(
            sp.GetRequiredService<IClusterClient>(),
            sp.GetRequiredService<IOptions<OrleansInferenceClientOptions>>(),
            sp.GetService<ILogger<OrleansInferenceClient>>(),
            sp.GetService<TimeProvider>()));
        return services;
    }

    private static IPEndPoint ParseGateway(string gateway)
    {
        if (IPEndPoint.TryParse(gateway, out var endpoint) && endpoint.Port != 0)
        {
            return endpoint;
        }
        var colon = gateway.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(gateway.AsSpan(colon + 1), out var port))
        {
            throw new OptionsValidationException(nameof(OrleansInferenceClientOptions.Gateways), typeof(OrleansInferenceClientOptions),
                [$"Gateway '{gateway}' is not host:port."]);
        }
        var host = gateway[..colon];
        var address = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? throw new OptionsValidationException(nameof(OrleansInferenceClientOptions.Gateways), typeof(OrleansInferenceClientOptions),
                [$"Gateway host '{host}' does not resolve to an IPv4 address."]);
        return new IPEndPoint(address, port);
    }
}
