using Xunit;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>Several <see cref="SiloProcess"/>es started together and stopped together.</summary>
public sealed class SiloGroup : IAsyncDisposable
{
    private readonly List<SiloProcess> _silos;

    private SiloGroup(List<SiloProcess> silos) => _silos = silos;

    /// <summary>The silos, in start order.</summary>
    public IReadOnlyList<SiloProcess> Silos => _silos;

    /// <summary>
    /// Launches <paramref name="count"/> silos (options for the 1-based index from <paramref name="options"/>) and waits
    /// until all are ready; stops them all if one fails.
    /// </summary>
    public static async Task<SiloGroup> StartAsync(int count, Func<int, SiloProcessOptions> options, CancellationToken cancellationToken)
    {
        var group = new SiloGroup([]);
        try
        {
            for (var i = 1; i <= count; i++)
            {
                group._silos.Add(SiloProcess.Launch(options(i)));
            }
            await Task.WhenAll(group._silos.Select(s => s.WaitUntilReadyAsync(s.Options.ReadyTimeout, cancellationToken)));
            return group;
        }
        catch
        {
            await group.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Stops every silo still running, after copying the end of each one's log to the test's output (shown when the test
    /// fails).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        var output = TestContext.Current.TestOutputHelper;
        foreach (var silo in _silos)
        {
            output?.WriteLine($"--- {silo.Name} ({silo.LogPath}), last lines:{Environment.NewLine}{silo.LogTail(40)}");
        }
        await Task.WhenAll(_silos.Select(s => s.DisposeAsync().AsTask()));
    }
}
