using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// One silo's engines after a run: per worker, KV blocks held by sequences (a block count from <c>/admin/workers</c>, or
/// the usage ratio from <c>/metrics</c> on silos without it), and requests still waiting or running.
/// </summary>
public sealed record SiloKvReading(string Silo, IReadOnlyDictionary<string, double> KvUsageByWorker, double Waiting, double MigrationsTotal)
{
    /// <summary>True when no engine of the silo holds a block for a sequence or has a request waiting.</summary>
    public bool Idle => KvUsageByWorker.Values.All(v => v == 0) && Waiting == 0;
}

/// <summary>
/// Reads a silo's <c>/metrics</c> (Prometheus text): <c>orleans_inference_kv_cache_usage_ratio</c> per worker (the share
/// of KV blocks referenced by sequences: cached prefix blocks do not count), <c>orleans_inference_requests_waiting</c>
/// and <c>orleans_inference_migrations_total</c>. After a run, a non-zero usage on a silo with nothing to do is a leak.
/// </summary>
public static partial class KvUsageProbe
{
    /// <summary>
    /// Reads one silo: KV usage from <c>/admin/workers</c> (used blocks, running and waiting requests per worker) where the
    /// silo has it, else from the usage gauge of <c>/metrics</c>; migrations from <c>/metrics</c>.
    /// </summary>
    public static async Task<SiloKvReading> ReadAsync(HttpClient http, string name, Uri silo, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync(new Uri(silo, "metrics"), cancellationToken);
        var usage = new Dictionary<string, double>(StringComparer.Ordinal);
        double waiting = 0, migrations = 0;
        var admin = await ReadAdminAsync(http, silo, cancellationToken);
        foreach (var line in text.Split('\n'))
        {
            var match = Sample().Match(line);
            if (!match.Success)
            {
                continue;
            }
            var value = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            switch (match.Groups["name"].Value)
            {
                case "orleans_inference_kv_cache_usage_ratio":
                    var worker = Worker().Match(match.Groups["labels"].Value);
                    usage[worker.Success ? worker.Groups[1].Value : line] = value;
                    break;
                case "orleans_inference_requests_waiting":
                    waiting += value;
                    break;
                case "orleans_inference_migrations_total":
                    migrations += value;
                    break;
            }
        }
        return admin is { } a ? new SiloKvReading(name, a.UsedBlocks, a.Waiting, migrations) : new SiloKvReading(name, usage, waiting, migrations);
    }

    // /admin/workers: {"silo": "...", "workers": [{"worker_id", "running", "waiting", "used_blocks", ...}]}; null where absent.
    private static async Task<(Dictionary<string, double> UsedBlocks, double Waiting)?> ReadAdminAsync(HttpClient http, Uri silo, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(new Uri(silo, "admin/workers"), cancellationToken);
        if (response.StatusCode != System.Net.HttpStatusCode.OK)
        {
            return null;
        }
        using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var used = new Dictionary<string, double>(StringComparer.Ordinal);
        double busy = 0;
        foreach (var w in json.RootElement.GetProperty("workers").EnumerateArray())
        {
            // Blocks held by sequences; a running request with none held is still not idle.
            used[w.GetProperty("worker_id").GetString()!] = w.GetProperty("used_blocks").GetInt32();
            busy += w.GetProperty("waiting").GetInt32() + w.GetProperty("running").GetInt32();
        }
        return (used, busy);
    }

    /// <summary>
    /// Polls the silos until every one is idle (aborted jobs are freed asynchronously) or <paramref name="timeout"/>
    /// passes; returns the last readings either way.
    /// </summary>
    public static async Task<IReadOnlyList<SiloKvReading>> WaitForIdleAsync(IReadOnlyList<(string Name, Uri Http)> silos, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var readings = new List<SiloKvReading>();
            foreach (var (name, uri) in silos)
            {
                readings.Add(await ReadAsync(http, name, uri, cancellationToken));
            }
            if (readings.All(r => r.Idle && r.KvUsageByWorker.Count > 0) || clock.Elapsed > timeout)
            {
                return readings;
            }
            await Task.Delay(500, cancellationToken);
        }
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})?\s+(?<value>[-+0-9.eE]+)(?:\s+\d+)?\s*$")]
    private static partial Regex Sample();

    [GeneratedRegex("worker=\"([^\"]*)\"")]
    private static partial Regex Worker();
}
