using System.Globalization;
using OrleansInference.Client.Tests.Cluster;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// Knobs of the chaos tests, from the environment: <c>ORLEANS_INFERENCE_CHAOS_REQUESTS</c> (default 200),
/// <c>ORLEANS_INFERENCE_CHAOS_CONCURRENCY</c> (default 16) and <c>ORLEANS_INFERENCE_CHAOS_JSON</c> (folder for the
/// reports; default <c>artifacts/chaos</c> under the repository).
/// </summary>
public static class ChaosSettings
{
    /// <summary>Requests per run.</summary>
    public static int Requests => Int("ORLEANS_INFERENCE_CHAOS_REQUESTS", 200);

    /// <summary>Requests streaming at once.</summary>
    public static int Concurrency => Int("ORLEANS_INFERENCE_CHAOS_CONCURRENCY", 16);

    /// <summary>Where a run's JSON report goes.</summary>
    public static string JsonPath(string name)
    {
        var folder = Environment.GetEnvironmentVariable("ORLEANS_INFERENCE_CHAOS_JSON");
        if (string.IsNullOrWhiteSpace(folder))
        {
            folder = Path.Combine(ClusterTestPaths.RepositoryRoot() ?? Path.GetTempPath(), "artifacts", "chaos");
        }
        return Path.Combine(folder, $"chaos-{name}.json");
    }

    private static int Int(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;
}
