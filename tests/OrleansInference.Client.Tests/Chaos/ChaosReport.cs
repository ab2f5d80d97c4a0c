using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>A fault injected during a run, at seconds since the run started.</summary>
public sealed record FaultEvent(double AtSeconds, string What);

/// <summary>One request's outcome against its reference.</summary>
public sealed record ChaosRequestOutcome(
    string Id, string Channel, bool Greedy, int Expected, int Received, bool Completed, bool MatchesReference, int FirstMismatch,
    int Lost, int Duplicated, int Gaps, int Breaks, int? Migrations, double LongestStallSeconds, string? FinishReason, string? Error,
    IReadOnlyList<string> BreakLog);

/// <summary>
/// The figures of a chaos run: every request must complete with exactly its reference output; the table says how
/// many were disturbed (migrated between workers, resumed by their client) and how long they waited to recover.
/// </summary>
public sealed record ChaosReport
{
    /// <summary>Name of the run (e.g. processes, compose).</summary>
    public required string Name { get; init; }

    /// <summary>Requests sent.</summary>
    public required int Requests { get; init; }

    /// <summary>Requests that ended with their full output.</summary>
    public required int Completed { get; init; }

    /// <summary>Requests equal to their reference, token for token.</summary>
    public required int MatchingReference { get; init; }

    /// <summary>Requests whose job moved to another worker (from the cluster's own count where it is known).</summary>
    public required int Migrated { get; init; }

    /// <summary>Requests their client had to resume (SDK re-attachment or SSE reconnection with Last-Event-ID) after a first token.</summary>
    public required int Resumed { get; init; }

    /// <summary>Requests retried before their first token (a refused connection, a silo that had just died).</summary>
    public required int RetriedBeforeFirstToken { get; init; }

    /// <summary>Requests hit by a fault: migrated, resumed or retried.</summary>
    public required int Disrupted { get; init; }

    /// <summary>Median recovery time of disrupted requests: their longest wait for a token.</summary>
    public required double RecoveryP50Seconds { get; init; }

    /// <summary>99th percentile of the same.</summary>
    public required double RecoveryP99Seconds { get; init; }

    /// <summary>Reference tokens never received.</summary>
    public required int LostTokens { get; init; }

    /// <summary>Tokens received twice at the same index.</summary>
    public required int DuplicatedTokens { get; init; }

    /// <summary>Tokens received, in total.</summary>
    public required long TokensReceived { get; init; }

    /// <summary>Wall time of the run.</summary>
    public required double WallSeconds { get; init; }

    /// <summary>Faults injected, in order.</summary>
    public required IReadOnlyList<FaultEvent> Faults { get; init; }

    /// <summary>Steps of the plan that could not run here, and why.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Cluster-wide count of migrations from the surviving silos' metrics (a killed silo's count is lost).</summary>
    public double? MigrationsCounted { get; init; }

    /// <summary>KV readings of the surviving silos after the run.</summary>
    public IReadOnlyList<SiloKvReading> KvAfterRun { get; init; } = [];

    /// <summary>Per-request outcomes.</summary>
    public required IReadOnlyList<ChaosRequestOutcome> Outcomes { get; init; }

    /// <summary>Builds the report from the ledgers and references.</summary>
    public static ChaosReport Create(string name, IReadOnlyList<TokenLedger> ledgers, IReadOnlyDictionary<string, IReadOnlyList<int>> reference,
        IReadOnlyList<FaultEvent> faults, double wallSeconds, IReadOnlyList<string> skipped)
    {
        var outcomes = ledgers.Select(l => Outcome(l, reference[l.Request.Id])).ToList();
        var disrupted = outcomes.Where(o => o.Breaks > 0 || o.Migrations > 0).ToList();
        var stalls = disrupted.Select(o => o.LongestStallSeconds).Order().ToList();
        return new ChaosReport
        {
            Name = name,
            Requests = outcomes.Count,
            Completed = outcomes.Count(o => o.Completed),
            MatchingReference = outcomes.Count(o => o.MatchesReference),
            Migrated = outcomes.Count(o => o.Migrations > 0),
            Resumed = ledgers.Count(l => l.Breaks.Count > 0 && !l.Breaks.All(b => b.Contains(" after 0 tokens", StringComparison.Ordinal))),
            RetriedBeforeFirstToken = ledgers.Count(l => l.Breaks.Any(b => b.Contains(" after 0 tokens", StringComparison.Ordinal))),
            Disrupted = disrupted.Count,
            RecoveryP50Seconds = Percentile(stalls, 0.50),
            RecoveryP99Seconds = Percentile(stalls, 0.99),
            LostTokens = outcomes.Sum(o => o.Lost),
            DuplicatedTokens = outcomes.Sum(o => o.Duplicated),
            TokensReceived = outcomes.Sum(o => (long)o.Received),
            WallSeconds = wallSeconds,
            Faults = faults,
            Skipped = skipped,
            Outcomes = outcomes,
        };
    }

    private static ChaosRequestOutcome Outcome(TokenLedger ledger, IReadOnlyList<int> expected)
    {
        var got = ledger.Tokens;
        var firstMismatch = -1;
        for (var i = 0; i < Math.Max(got.Count, expected.Count); i++)
        {
            if (i >= got.Count || i >= expected.Count || got[i] != expected[i])
            {
                firstMismatch = i;
                break;
            }
        }
        // Lost: reference positions that never arrived (a gap or an early end) plus wrong tokens.
        var lost = expected.Count - got.Take(expected.Count).Where((t, i) => t == expected[i]).Count();
        return new ChaosRequestOutcome(ledger.Request.Id, ledger.Request.Channel.ToString(), ledger.Request.Seed is null, expected.Count, got.Count,
            ledger.Finished && ledger.Error is null && got.Count == expected.Count, firstMismatch < 0, firstMismatch, lost, ledger.Duplicates, ledger.Gaps,
            ledger.Breaks.Count, ledger.Migrations, ledger.LongestStall.TotalSeconds, ledger.FinishReason, ledger.Error, ledger.Breaks);
    }

    private static double Percentile(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    /// <summary>The figures as a text table (plus the fault timeline and what was skipped).</summary>
    public string ToTable()
    {
        var s = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        s.AppendLine(c, $"chaos run '{Name}': {WallSeconds:F1} s, {TokensReceived} tokens received");
        foreach (var f in Faults)
        {
            s.AppendLine(c, $"  t={f.AtSeconds,6:F1} s  {f.What}");
        }
        foreach (var skip in Skipped)
        {
            s.AppendLine(c, $"  skipped: {skip}");
        }
        s.AppendLine("| requests | completed | match reference | migrated | resumed | retried | recovery p50 | recovery p99 | lost tokens | duplicated tokens |");
        s.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        s.AppendLine(c, $"| {Requests} | {Completed} | {MatchingReference} | {Migrated} | {Resumed} | {RetriedBeforeFirstToken} | {RecoveryP50Seconds:F2} s | {RecoveryP99Seconds:F2} s | {LostTokens} | {DuplicatedTokens} |");
        if (MigrationsCounted is { } counted)
        {
            s.AppendLine(c, $"  migrations counted by surviving silos' metrics: {counted}");
        }
        foreach (var r in KvAfterRun)
        {
            s.AppendLine(c, $"  {r.Silo} after the run: KV usage {string.Join(", ", r.KvUsageByWorker.Select(kv => $"{kv.Key}={kv.Value:F3}"))}; waiting {r.Waiting}");
        }
        return s.ToString();
    }

    /// <summary>Writes the report as JSON.</summary>
    public async Task WriteJsonAsync(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, this, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
    }
}
