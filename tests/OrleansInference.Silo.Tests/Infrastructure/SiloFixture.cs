using OrleansInference.Tests.Shared;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using OrleansInference.Silo.Hosting;

namespace OrleansInference.Silo.Tests.Infrastructure;

/// <summary>
/// The real silo host, in process: built-in model on CPU with a small KV pool, HTTP on a random loopback port, unique
/// Orleans ports and cluster id. One per test collection.
/// </summary>
public class SiloFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public HttpClient Http { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public int GatewayPort { get; private set; }

    public string ClusterId { get; } = "test-" + Guid.NewGuid().ToString("N")[..8];

    public IServiceProvider Services => _app!.Services;

    /// <summary>Settings a derived fixture changes (as configuration key/value pairs).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> Settings => [];

    public async ValueTask InitializeAsync()
    {
        var ports = FreeTcpPorts.Take(2);
        GatewayPort = ports[1];
        var settings = new Dictionary<string, string>
        {
            ["Orleans:SiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Orleans:ClusterId"] = ClusterId,
            ["Orleans:ServiceId"] = ClusterId,
            ["Inference:Model"] = "builtin",
            ["Inference:Engine:Device"] = "cpu",
            ["Inference:Engine:NumBlocks"] = "256",
            ["Inference:Engine:CpuThreads"] = "1",
            ["Inference:DetachedRequestGrace"] = "00:00:02",
            ["Http:MaxRequestBodyBytes"] = "65536",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime"] = "Warning",
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }
        var args = new List<string> { "--urls", "http://127.0.0.1:0" };
        foreach (var (key, value) in settings)
        {
            args.Add("--" + key);
            args.Add(value);
        }
        _app = SiloHost.Create([.. args]);
        await _app.StartAsync(TestContext.Current.CancellationToken);
        BaseAddress = new Uri(_app.Urls.First());
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync(CancellationToken.None);
            await _app.DisposeAsync();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>The host shared by the HTTP test classes.</summary>
[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloFixture>
{
    public const string Name = "silo";
}
