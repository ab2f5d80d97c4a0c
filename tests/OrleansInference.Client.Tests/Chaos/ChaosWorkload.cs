using System.Globalization;
using System.Text;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>How a chaos request reaches the cluster.</summary>
public enum ChaosChannel
{
    /// <summary>The .NET SDK (<see cref="OrleansInferenceClient"/>), which re-attaches when its stream stalls.</summary>
    Sdk,

    /// <summary>HTTP SSE (<c>/v1/completions</c>), resumed with <c>Last-Event-ID</c> on another silo after a broken connection.</summary>
    Http,
}

/// <summary>One request of a chaos run. Greedy when <see cref="Seed"/> is null; otherwise T = 0.8, top_p = 0.9 with that seed.</summary>
public sealed record ChaosRequest(string Id, int Index, string Prompt, int MaxTokens, ulong? Seed, ChaosChannel Channel)
{
    /// <summary>Sampling temperature.</summary>
    public float Temperature => Seed is null ? 0f : 0.8f;

    /// <summary>Nucleus mass.</summary>
    public float TopP => Seed is null ? 1f : 0.9f;

    /// <summary>Short description for failure messages.</summary>
    public override string ToString() =>
        $"#{Index} {Id} ({Channel}, {(Seed is null ? "greedy" : "seed " + Seed.Value.ToString(CultureInfo.InvariantCulture))}, {MaxTokens} tokens)";
}

/// <summary>
/// The chaos workload: <c>count</c> requests of the built-in model with prompts of 6–30 words, 32–64 output tokens
/// each (EOS ignored, so every output has a known length), alternating greedy and seeded sampling and, independently,
/// SDK and HTTP. Deterministic in <c>seed</c> (apart from the request ids), so a run can be repeated exactly.
/// </summary>
public static class ChaosWorkload
{
    private static readonly string[] Words =
    [
        "the", "cluster", "keeps", "serving", "tokens", "while", "a", "silo", "dies", "and", "another", "is", "cut", "off",
        "from", "its", "peers", "request", "grains", "move", "work", "to", "live", "engines", "blocks", "return", "pool",
        "every", "stream", "resumes", "where", "it", "stopped", "river", "mountain", "quiet", "morning", "light", "over",
        "old", "harbor", "ships", "sail", "north", "when", "winter", "comes", "early", "this", "year",
    ];

    /// <summary>Builds the workload. <paramref name="sdk"/> false sends every request over HTTP (e.g. the compose cluster).</summary>
    public static IReadOnlyList<ChaosRequest> Create(int count, int seed = 20261124, bool sdk = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var random = new Random(seed);
        // Request ids are fresh per call (grain keys must not collide with an earlier run's); the content is not.
        var run = Guid.NewGuid().ToString("N")[..8];
        var requests = new List<ChaosRequest>(count);
        for (var i = 0; i < count; i++)
        {
            var words = random.Next(6, 31);
            var prompt = new StringBuilder();
            for (var w = 0; w < words; w++)
            {
                if (w > 0) prompt.Append(' ');
                prompt.Append(Words[random.Next(Words.Length)]);
            }
            var maxTokens = random.Next(32, 65);
            ulong? sampleSeed = i % 2 == 0 ? null : (ulong)random.Next(1, int.MaxValue);
            // Pairs (greedy, seeded) alternate between the two channels so both see both kinds of sampling.
            var channel = sdk && (i / 2) % 2 == 0 ? ChaosChannel.Sdk : ChaosChannel.Http;
            var id = string.Create(CultureInfo.InvariantCulture, $"chaos-{run}-{i:D4}");
            requests.Add(new ChaosRequest(id, i, prompt.ToString(), maxTokens, sampleSeed, channel));
        }
        return requests;
    }
}
