using OrleansInference.Tests.Shared;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Xunit.Sdk;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// A throwaway redis-server for cluster membership: a free port, a temporary folder, no persistence. Tests that need
/// one are skipped, with the reason, where redis-server is not installed.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;

    private RedisServer(Process process, DirectoryInfo directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    /// <summary>The port it listens on (on 127.0.0.1 and on every extra bind address).</summary>
    public int Port { get; }

    /// <summary>StackExchange.Redis connection string for a client on this machine.</summary>
    public string ConnectionString => ConnectionStringFor("127.0.0.1");

    /// <summary>Connection string through another of its bind addresses (a silo in a network namespace).</summary>
    public string ConnectionStringFor(string host) => $"{host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Its log (it logs to stdout, captured here).</summary>
    public string LogPath => Path.Combine(_directory.FullName, "redis.log");

    /// <summary>
    /// Starts redis-server on a free port (or on <paramref name="port"/>) bound to 127.0.0.1 and
    /// <paramref name="extraBindAddresses"/>, and waits until it answers PING. Skips the calling test when redis-server is
    /// not installed.
    /// </summary>
    public static async Task<RedisServer> StartAsync(IEnumerable<string>? extraBindAddresses = null, CancellationToken cancellationToken = default, int? port = null)
    {
        var executable = ClusterTestPaths.FindOnPath("redis-server")
            ?? throw SkipException.ForSkip("redis-server is not installed (apt-get install redis-server): the multi-process cluster tests need it for membership");
        var binds = string.Join(' ', new[] { "127.0.0.1" }.Concat(extraBindAddresses ?? []));
        Exception? last = null;
        // A port found free can be taken before redis binds it: try a few (a port asked for is tried once).
        for (var attempt = 0; attempt < (port is null ? 3 : 1); attempt++)
        {
            var listen = port ?? FreeTcpPorts.Take(1)[0];
            var directory = Directory.CreateTempSubdirectory("oi-redis-");
            var process = Launch(executable, listen, binds, directory);
            var server = new RedisServer(process, directory, listen);
            try
            {
                await server.WaitForPingAsync(TimeSpan.FromSeconds(10), cancellationToken);
                return server;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                last = ex;
                await server.DisposeAsync();
            }
        }
        throw new InvalidOperationException("redis-server did not start", last);
    }

    private static Process Launch(string executable, int port, string binds, DirectoryInfo directory)
    {
        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            WorkingDirectory = directory.FullName,
        };
        foreach (var argument in new[]
                 {
                     "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", binds, "--protected-mode", "no",
                     "--save", "", "--appendonly", "no", "--dir", directory.FullName,
                     "--logfile", Path.Combine(directory.FullName, "redis.log"),
                 })
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start");
    }

    private async Task WaitForPingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with {_process.ExitCode}: {ReadLog()}");
            }
            if (await PingAsync(cancellationToken))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"redis-server on port {Port} did not answer PING within {timeout}: {ReadLog()}");
            }
            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>True when the server answers PING with PONG.</summary>
    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port, cancellationToken);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cancellationToken);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, cancellationToken);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private string ReadLog() => File.Exists(LogPath) ? File.ReadAllText(LogPath) : "(no log)";

    /// <summary>Kills the server and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try
        {
            _directory.Delete(recursive: true);
        }
        catch (IOException)
        {
            // A file still being closed: the temporary folder is left behind.
        }
    }
}
