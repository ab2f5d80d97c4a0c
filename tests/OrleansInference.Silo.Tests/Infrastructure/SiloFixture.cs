namespace OrleansInference.Silo.Tests.Infrastructure;

/// <summary>
/// The real silo host, in process: built-in model on CPU with a small KV pool, HTTP on a random loopback port, unique
/// Orleans ports and cluster id. One per test collection.
/// </summary>
public class SiloFixture : IAsyncLifetime
{
    private RunningSilo? _silo;

    public HttpClient Http => _silo!.Http;

    public Uri BaseAddress => _silo!.BaseAddress;

    public int GatewayPort => _silo!.GatewayPort;

    public string ClusterId { get; } = "test-" + Guid.NewGuid().ToString("N")[..8];

    public IServiceProvider Services => _silo!.Services;

    /// <summary>Settings a derived fixture changes (as configuration key/value pairs).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> Settings => [];

    public async ValueTask InitializeAsync() =>
        _silo = await RunningSilo.StartAsync(ClusterId, Settings, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_silo is not null)
        {
            await _silo.DisposeAsync();
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
