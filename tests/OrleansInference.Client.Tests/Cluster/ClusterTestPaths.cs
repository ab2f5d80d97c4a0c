using Xunit.Sdk;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>Where the cluster harness finds the repository, the silo to start and programs on PATH.</summary>
internal static class ClusterTestPaths
{
    /// <summary>Environment variable naming the silo DLL to start (e.g. a published copy on another machine).</summary>
    public const string SiloDllVariable = "ORLEANS_INFERENCE_SILO_DLL";

    private const string SiloAssembly = "OrleansInference.Silo.dll";

    /// <summary>The repository root (the folder holding OrleansInference.sln above this test's output), or null.</summary>
    public static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansInference.sln")))
            {
                return dir.FullName;
            }
        }
        return null;
    }

    /// <summary>
    /// The silo DLL: <see cref="SiloDllVariable"/> when set, else the silo project's build output for this test's
    /// configuration (the test project references the silo, so building the tests builds it), else null.
    /// </summary>
    public static string? SiloDll()
    {
        var configured = Environment.GetEnvironmentVariable(SiloDllVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }
        var root = RepositoryRoot();
        if (root is null)
        {
            return null;
        }
        // This test runs from .../bin/<Configuration>/<TargetFramework>/: the silo's output has the same shape.
        var output = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory));
        var framework = output.Name;
        var configuration = output.Parent?.Name ?? "Debug";
        var candidate = Path.Combine(root, "Silos", "OrleansInference.Silo", "bin", configuration, framework, SiloAssembly);
        return File.Exists(candidate) ? candidate : null;
    }

    /// <summary>The silo DLL, or skips the test saying how to provide one.</summary>
    public static string SiloDllOrSkip() =>
        SiloDll() ?? throw SkipException.ForSkip(
            $"no silo build output found: build Silos/OrleansInference.Silo or set {SiloDllVariable} to a published OrleansInference.Silo.dll");

    /// <summary>Full path of an executable on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>The <c>dotnet</c> host that runs the silo: the one running this test when it is <c>dotnet</c>, else PATH's.</summary>
    public static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }
        var root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet")))
        {
            return Path.Combine(root, "dotnet");
        }
        return FindOnPath("dotnet") ?? "dotnet";
    }
}
