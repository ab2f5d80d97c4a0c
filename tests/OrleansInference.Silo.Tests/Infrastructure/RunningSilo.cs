using System.Globalization;
using Microsoft.AspNetCore.Builder;
using OrleansInference.Silo.Hosting;
using OrleansInference.Tests.Shared;

namespace OrleansInference.Silo.Tests.Infrastructure;

/// <summary>
/// One real silo host in process, built as the silo program builds it: built-in model on CPU with a small KV pool,
/// Kestrel on a random 127.0.0.1 port, Orleans on free loopback ports, and an HTTP client for it.
/// </summary>
public sealed class RunningSilo : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private RunningSilo(WebApplication app, int siloPort, int gatewayPort)
    {
        _app = app;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        BaseAddress = new Uri(app.Urls.First());
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public HttpClient Http { get; }

    public Uri BaseAddress { get; }

    public int SiloPort { get; }

    public int GatewayPort { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts a silo of cluster <paramref name="clusterId"/>; <paramref name="settings"/> (configuration keys) override
    /// the defaults, e.g. <c>Orleans:PrimarySiloEndpoint</c> to join another silo of the same process.
    /// </summary>
    public static async Task<RunningSilo> StartAsync(string clusterId, IEnumerable<KeyValuePair<string, string>> settings, CancellationToken ct)
    {
        var ports = FreeTcpPorts.Take(2);
        var all = new Dictionary<string, string>
        {
            ["Orleans:SiloPort"] = ports[0].ToString(CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = clusterId,
            ["Inference:Model"] = "builtin",
            ["Inference:Engine:Device"] = "cpu",
            ["Inference:Engine:NumBlocks"] = "256",
            ["Inference:Engine:CpuThreads"] = "1",
            ["Inference:DetachedRequestGrace"] = "00:00:02",
            ["Http:MaxRequestBodyBytes"] = "65536",
            ["Serilog:MinimumLevel:Default"] = "Warning",
            ["Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime"] = "Warning",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }
        var args = new List<string> { "--urls", "http://127.0.0.1:0" };
        foreach (var (key, value) in all)
        {
            args.Add("--" + key);
            args.Add(value);
        }
        var app = SiloHost.Create([.. args]);
        await app.StartAsync(ct);
        return new RunningSilo(app, ports[0], ports[1]);
    }

    /// <summary>Stops the silo the way its process would on SIGTERM (its workers leave the cluster first).</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }
        _stopped = true;
        Http.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
