using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansInference.Silo.Hosting;

namespace OrleansInference.Client.Tests.Infrastructure;

/// <summary>
/// A real silo host (built-in model on CPU) in this process, and a separate client host that reaches it through its
/// Orleans gateway with the SDK's DI registration, as an application would.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    private WebApplication? _silo;
    private IHost? _client;

    public IServiceProvider Client => _client!.Services;

    public IServiceProvider Silo => _silo!.Services;

    /// <summary>Redis connection string for membership; null: localhost clustering and a static gateway.</summary>
    protected virtual Task<string?> StartMembershipAsync(CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var ports = FreePorts(2);
        var cluster = "sdk-" + Guid.NewGuid().ToString("N")[..8];
        var redis = await StartMembershipAsync(ct);
        string[] membership = redis is null ? [] : ["--Orleans:Redis", redis, "--Orleans:AdvertisedHost", "127.0.0.1"];
        _silo = SiloHost.Create(
        [
            .. membership,
            "--urls", "http://127.0.0.1:0",
            "--Orleans:SiloPort", ports[0].ToString(CultureInfo.InvariantCulture),
            "--Orleans:GatewayPort", ports[1].ToString(CultureInfo.InvariantCulture),
            "--Orleans:ClusterId", cluster,
            "--Orleans:ServiceId", cluster,
            "--Inference:Model", "builtin",
            "--Inference:Engine:NumBlocks", "256",
            "--Inference:Engine:CpuThreads", "1",
            "--Serilog:MinimumLevel:Default", "Warning",
            "--Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime", "Warning",
        ]);
        await _silo.StartAsync(ct);

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddOrleansInferenceClient(o =>
        {
            o.Gateways = redis is null ? [$"127.0.0.1:{ports[1]}"] : [];
            o.Redis = redis;
            o.ClusterId = cluster;
            o.ServiceId = cluster;
            o.DefaultModel = "builtin";
        });
        builder.Services.AddOrleansInferenceChatClient();
        _client = builder.Build();
        await _client.StartAsync(ct);
    }

    public virtual async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.StopAsync(CancellationToken.None);
            _client.Dispose();
        }
        if (_silo is not null)
        {
            await _silo.StopAsync(CancellationToken.None);
            await _silo.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }

    protected static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }
}
