using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains;
using OrleansInference.Tests.Shared;

namespace OrleansInference.Silo.Tests.Infrastructure;

/// <summary>
/// A real three-silo cluster in process, each silo with its own Kestrel on 127.0.0.1: <see cref="WithModel"/> serves
/// <see cref="Model"/>, <see cref="Router"/> has no engine, and <see cref="Leaving"/> serves <see cref="LeavingModel"/>
/// (the built-in model under another name) and is stopped by the test about models whose workers are all gone.
/// </summary>
public sealed class ThreeSiloFixture : IAsyncLifetime
{
    public const string Model = "builtin";
    public const string LeavingModel = "builtin-leaving";
    private readonly string _clusterId = "test-" + Guid.NewGuid().ToString("N")[..8];

    public RunningSilo WithModel { get; private set; } = null!;

    public RunningSilo Router { get; private set; } = null!;

    public RunningSilo Leaving { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        WithModel = await RunningSilo.StartAsync(_clusterId, [], ct);
        // The registry grain activates on its first caller's silo, the model's conductor on this one (the only silo so
        // far), so it is not lost with the silo a test stops.
        var registry = WithModel.Services.GetRequiredService<IGrainFactory>().GetModelRegistry();
        await Eventually.TrueAsync(async () => await registry.FindAsync(Model) is { LiveWorkers: 1 }, "the registry lists the model", ct);

        KeyValuePair<string, string> join = new("Orleans:PrimarySiloEndpoint", $"127.0.0.1:{WithModel.SiloPort}");
        Router = await RunningSilo.StartAsync(_clusterId, [join, new("Inference:WorkersPerSilo", "0")], ct);
        Leaving = await RunningSilo.StartAsync(_clusterId, [join, new("Inference:ModelId", LeavingModel)], ct);
        await Eventually.TrueAsync(async () => await registry.FindAsync(LeavingModel) is { LiveWorkers: 1 }, "the registry lists the second model", ct);
        // The silo without engines reads the registry through its own cached copy (Inference:ModelDirectoryCacheTime):
        // tests start once that copy lists both models (a CI run's first test found it still empty).
        string lastList = "";
        await Eventually.TrueAsync(async () =>
        {
            lastList = await Router.Http.GetStringAsync("/v1/models", ct);
            return lastList.Contains($"\"{Model}\"", StringComparison.Ordinal) && lastList.Contains($"\"{LeavingModel}\"", StringComparison.Ordinal);
        }, "the silo without engines lists both models", ct, lastSeen: () => lastList);
    }

    public async ValueTask DisposeAsync()
    {
        // Joined silos first: the first one holds the development membership table.
        foreach (var silo in new[] { Leaving, Router, WithModel })
        {
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }
    }
}
