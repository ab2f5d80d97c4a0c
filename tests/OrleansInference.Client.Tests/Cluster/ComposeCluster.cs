using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Xunit.Sdk;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>
/// One silo container of <see cref="ComposeCluster"/>, reached through its ports published on loopback. Its gateway
/// serves Orleans clients inside the compose network (clients outside need the silos to advertise an address they can
/// reach).
/// </summary>
public sealed record ComposeSilo(string Service, string Container, Uri HttpAddress, IPEndPoint Gateway);

/// <summary>
/// The repository's docker-compose.yml brought up for real with podman-compose (<c>deploy/podman/up.sh</c>: Redis and
/// three CPU silos in containers), with this build of the silo. Skipped, with the reason, where podman or
/// podman-compose is missing or the test does not run as root. Tests reach the containers only through the ports the
/// compose file publishes on 127.0.0.1.
/// </summary>
public sealed partial class ComposeCluster : IAsyncDisposable
{
    /// <summary>Cluster and service id the compose file gives its silos.</summary>
    public const string ClusterId = "orleans-inference";

    private const string Project = "orleans-inference";
    private const string Network = Project + "_default";
    private static readonly TimeSpan UpTimeout = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan PodmanTimeout = TimeSpan.FromMinutes(1);
    private readonly string _root;
    private readonly Dictionary<string, string> _environment;

    private ComposeCluster(string root)
    {
        _root = root;
        _environment = new Dictionary<string, string>
        {
            ["CONTAINERS_CONF"] = Path.Combine(root, "artifacts", "podman", "containers.conf"),
        };
        // Ports as published by docker-compose.yml: silo N serves HTTP on 800N and its gateway on 3000N.
        Silos = Enumerable.Range(1, 3).Select(n => new ComposeSilo(
            "silo" + n.ToString(CultureInfo.InvariantCulture),
            $"{Project}_silo{n.ToString(CultureInfo.InvariantCulture)}_1",
            new Uri($"http://127.0.0.1:{(8000 + n).ToString(CultureInfo.InvariantCulture)}/"),
            new IPEndPoint(IPAddress.Loopback, 30000 + n))).ToList();
    }

    /// <summary>Redis (membership) as published on loopback.</summary>
    public const string Redis = "127.0.0.1:6380";

    /// <summary>The three CPU silos.</summary>
    public IReadOnlyList<ComposeSilo> Silos { get; }

    /// <summary>
    /// Builds the silo image from this test's silo build output and brings the cluster up; returns once every silo
    /// reports ready. The base images are made on first use (minutes) and cached.
    /// </summary>
    public static async Task<ComposeCluster> StartAsync(CancellationToken cancellationToken = default)
    {
        // Opt-in: the first run builds container images (minutes) and the cluster takes fixed loopback ports.
        if (Environment.GetEnvironmentVariable("ORLEANS_INFERENCE_COMPOSE_TESTS") != "1")
        {
            throw SkipException.ForSkip("compose cluster tests are opt-in: set ORLEANS_INFERENCE_COMPOSE_TESTS=1 (needs podman, deploy/podman/build-images.sh)");
        }
        if (!OperatingSystem.IsLinux() || ClusterTestPaths.FindOnPath("podman") is null || ClusterTestPaths.FindOnPath("podman-compose") is null)
        {
            throw SkipException.ForSkip("podman and podman-compose are not installed (deploy/podman/build-images.sh installs them)");
        }
        if (GetEffectiveUserId() != 0)
        {
            throw SkipException.ForSkip("the podman cluster runs rootful: run as root");
        }
        var root = ClusterTestPaths.RepositoryRoot()
            ?? throw SkipException.ForSkip("the repository (deploy/podman/up.sh) is not above this test's output");
        var silo = Path.GetDirectoryName(ClusterTestPaths.SiloDllOrSkip())!;
        var cluster = new ComposeCluster(root);
        try
        {
            await ExternalCommand.RunCheckedAsync("bash", [Path.Combine(root, "deploy", "podman", "up.sh"), "--build", "--app-dir", silo],
                UpTimeout, cancellationToken, workingDirectory: root);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends SIGKILL to a silo's container.</summary>
    public Task KillAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        PodmanAsync(cancellationToken, "kill", "--signal", "KILL", silo.Container);

    /// <summary>Disconnects a silo's container from the compose network (a partition; its process keeps running).</summary>
    public Task DisconnectAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        PodmanAsync(cancellationToken, "network", "disconnect", Network, silo.Container);

    /// <summary>Reconnects a container cut off by <see cref="DisconnectAsync"/>.</summary>
    public Task ConnectAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        PodmanAsync(cancellationToken, "network", "connect", Network, silo.Container);

    /// <summary>Starts a silo's container again (after it was killed, or ended itself on being declared dead).</summary>
    public Task RestartAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        PodmanAsync(cancellationToken, "start", silo.Container);

    /// <summary>Whether a silo's container is running.</summary>
    public async Task<bool> IsRunningAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        (await PodmanAsync(cancellationToken, "inspect", "--format", "{{.State.Running}}", silo.Container)).Trim() == "true";

    /// <summary>
    /// Host names (service names) of the silos the membership table lists as active. The containers' gateways advertise
    /// the containers' own addresses, so an Orleans client outside cannot use them: the table is read from Redis.
    /// </summary>
    public async Task<IReadOnlyList<string>> ActiveSilosAsync() =>
        (await RedisMembershipTable.ActiveAsync(Redis, ClusterId, ClusterId)).Select(r => r.HostName ?? r.Endpoint.ToString())
        .Order(StringComparer.Ordinal).ToList();

    /// <summary>A container's output.</summary>
    public Task<string> LogsAsync(ComposeSilo silo, CancellationToken cancellationToken = default) =>
        PodmanAsync(cancellationToken, "logs", silo.Container);

    private Task<string> PodmanAsync(CancellationToken cancellationToken, params string[] arguments) =>
        ExternalCommand.RunCheckedAsync("podman", arguments, PodmanTimeout, cancellationToken, _environment);

    /// <summary>Brings the cluster down (<c>deploy/podman/down.sh</c>); the images stay for the next run.</summary>
    public async ValueTask DisposeAsync() =>
        await ExternalCommand.RunAsync("bash", [Path.Combine(_root, "deploy", "podman", "down.sh")], TimeSpan.FromMinutes(2),
            CancellationToken.None, workingDirectory: _root);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();
}
