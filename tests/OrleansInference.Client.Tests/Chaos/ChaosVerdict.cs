using Xunit;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>Prints a chaos report (test output, diagnostics, JSON) and asserts what must hold after any fault.</summary>
public static class ChaosVerdict
{
    /// <summary>Publishes <paramref name="report"/> and fails the test, naming the first bad requests, unless every request completed with exactly its reference output, nothing was duplicated or lost, and no surviving silo holds a KV block.</summary>
    public static async Task PublishAndAssertAsync(ChaosReport report)
    {
        var path = ChaosSettings.JsonPath(report.Name);
        await report.WriteJsonAsync(path);
        var table = report.ToTable() + $"  JSON: {path}";
        TestContext.Current.TestOutputHelper?.WriteLine(table);
        TestContext.Current.SendDiagnosticMessage(table);
        Console.WriteLine(table);

        var bad = report.Outcomes.Where(o => !o.Completed || !o.MatchesReference || o.Duplicated > 0 || o.Gaps > 0).Take(5)
            .Select(o => $"{o.Id} ({o.Channel}, {(o.Greedy ? "greedy" : "seeded")}): received {o.Received}/{o.Expected}, first mismatch {o.FirstMismatch}, " +
                         $"duplicated {o.Duplicated}, gaps {o.Gaps}, breaks {o.Breaks}, error {o.Error}")
            .ToList();
        Assert.True(bad.Count == 0, $"{report.Requests - report.Completed} incomplete, {report.Requests - report.MatchingReference} differ from the reference; " +
                                    $"first: {string.Join(" | ", bad)}{Environment.NewLine}{table}");
        Assert.Equal(0, report.DuplicatedTokens);
        Assert.Equal(0, report.LostTokens);
        var leaking = report.KvAfterRun.Where(r => !r.Idle).ToList();
        Assert.True(leaking.Count == 0, "KV blocks still held after the run: " +
            string.Join("; ", leaking.Select(r => $"{r.Silo}: {string.Join(", ", r.KvUsageByWorker.Select(kv => $"{kv.Key}={kv.Value}"))}, waiting {r.Waiting}")));
        Assert.True(report.KvAfterRun.Count > 0 && report.KvAfterRun.All(r => r.KvUsageByWorker.Count > 0), "no KV readings from the surviving silos' /metrics");
    }
}
