using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// A silo running as a separate process (the built silo DLL under <c>dotnet</c>), so that a test can crash it for real:
/// <see cref="Kill"/> sends SIGKILL, and nothing gets to tell the cluster it is going. Its stdout and stderr go to
/// <see cref="LogPath"/>.
/// </summary>
public sealed partial class SiloProcess : IAsyncDisposable
{
    private const int SigTerm = 15;
    private readonly Process _process;
    private readonly TextWriter _log;

    private SiloProcess(SiloProcessOptions options, Process process, TextWriter log, string logPath)
    {
        Options = options;
        _process = process;
        _log = log;
        LogPath = logPath;
        HttpAddress = new Uri($"http://{options.Host}:{options.HttpPort.ToString(CultureInfo.InvariantCulture)}/");
        Gateway = new IPEndPoint(IPAddress.Parse(options.Host), options.GatewayPort);
    }

    /// <summary>What it was started with.</summary>
    public SiloProcessOptions Options { get; }

    /// <summary>Its name.</summary>
    public string Name => Options.Name;

    /// <summary>Base address of its HTTP APIs.</summary>
    public Uri HttpAddress { get; }

    /// <summary>Its Orleans gateway.</summary>
    public IPEndPoint Gateway { get; }

    /// <summary>Its silo-to-silo endpoint, as membership lists it.</summary>
    public IPEndPoint SiloEndpoint => new(IPAddress.Parse(Options.Host), Options.SiloPort);

    /// <summary>Operating-system process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Where its output goes.</summary>
    public string LogPath { get; }

    /// <summary>True once the process has ended.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Its exit code once it has ended; null while it runs.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>
    /// Starts the silo and waits until <c>/v2/health/ready</c> answers 200 (its engine has loaded the model). Throws, with
    /// the end of its log, when it exits or is not ready within <see cref="SiloProcessOptions.ReadyTimeout"/>.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(SiloProcessOptions options, CancellationToken cancellationToken = default)
    {
        var silo = Launch(options);
        try
        {
            await silo.WaitUntilReadyAsync(options.ReadyTimeout, cancellationToken);
            return silo;
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the silo without waiting for it (start several, then wait for all).</summary>
    public static SiloProcess Launch(SiloProcessOptions options)
    {
        var dll = ClusterTestPaths.SiloDllOrSkip();
        var dotnet = ClusterTestPaths.DotnetHost();
        var info = options.NetworkNamespace is { } ns
            ? new ProcessStartInfo("ip") { ArgumentList = { "netns", "exec", ns, dotnet, dll } }
            : new ProcessStartInfo(dotnet) { ArgumentList = { dll } };
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://{options.Host}:{options.HttpPort.ToString(CultureInfo.InvariantCulture)}");
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = true;
        info.WorkingDirectory = Path.GetDirectoryName(dll)!;
        // Settings of the test runner's own environment must not leak into the silo.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
                     || k.StartsWith("Orleans__", StringComparison.Ordinal) || k.StartsWith("Inference__", StringComparison.Ordinal)).ToList())
        {
            info.Environment.Remove(key);
        }
        foreach (var (key, value) in options.Environment())
        {
            info.Environment[key] = value;
        }

        var logPath = Path.Combine(Directory.CreateTempSubdirectory("oi-silo-").FullName, options.Name + ".log");
        var log = TextWriter.Synchronized(new StreamWriter(logPath) { AutoFlush = true });
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new SiloProcess(options, process, log, logPath);
    }

    private static void Write(TextWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }
        try
        {
            log.WriteLine(line);
        }
        catch (ObjectDisposedException)
        {
            // Output racing the disposal of a killed silo.
        }
    }

    /// <summary>Waits until <c>/v2/health/ready</c> answers 200.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode} before it was ready: {LogTail(60)}");
            }
            try
            {
                using var response = await http.GetAsync("v2/health/ready", cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // One slow answer while it starts.
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"{Name} was not ready at {HttpAddress} within {timeout}: {LogTail(60)}");
            }
            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>SIGKILL: the process ends at once, without leaving the cluster.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }
        _process.WaitForExit();
    }

    /// <summary>SIGTERM (a graceful shutdown), then SIGKILL if it has not ended within <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }
        _ = SendSignal(_process.Id, SigTerm);
        using var wait = new CancellationTokenSource(grace);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Its output so far.</summary>
    public string ReadLog()
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The last <paramref name="lines"/> lines of its output.</summary>
    public string LogTail(int lines)
    {
        var all = ReadLog().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>
    /// Stops it (SIGTERM, then SIGKILL after 10 s) and deletes its log, unless the environment variable
    /// <see cref="KeepLogsVariable"/> is 1.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(10));
        _process.WaitForExit();
        _process.Dispose();
        await _log.DisposeAsync();
        if (Environment.GetEnvironmentVariable(KeepLogsVariable) != "1")
        {
            Directory.Delete(Path.GetDirectoryName(LogPath)!, recursive: true);
        }
    }

    /// <summary>Set to 1 to keep silo logs after the test (their paths are in the test output).</summary>
    public const string KeepLogsVariable = "ORLEANS_INFERENCE_KEEP_SILO_LOGS";

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
