using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using OrleansInference.Grains;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// Placement on a shared-prefix workload: 4 workers (4 CPU engines with the built-in model on one silo; each engine
/// has its own KV pool and prefix cache, exactly as on separate silos, and the client talks TCP to the gateway),
/// 16 groups × 8 prompts (512-token shared prefix + 64-token question, 4 output tokens), shuffled with a fixed seed,
/// sent by a few concurrent callers. Each policy runs on a fresh cluster, after a process-wide warm-up with prompts of
/// the workload's length. Reports prompt tokens computed (against
/// the oracle that computes each group's prefix once), prefix hit rate, requests per worker and TTFT.
/// Options: <c>--groups</c>, <c>--per-group</c>, <c>--prefix</c>, <c>--question</c>, <c>--concurrency</c>,
/// <c>--blocks</c> (KV blocks per worker), <c>--seed</c>, <c>--alpha</c> (cache-aware α), <c>--json FILE</c>.
/// </summary>
internal static class RoutingBenchmark
{
    private const int Workers = 4;
    private static readonly string[] Policies = ["cache-aware", "least-loaded", "round-robin"];

    private sealed record PolicyResult(
        string Policy, long PrefillTokens, double PrefillVsOracle, double PrefixHitRate, int[] RequestsPerWorker,
        double MaxOverMean, double TtftP50Ms, double TtftP99Ms, double WallSeconds);

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new BenchmarkArgs(args);
        var groups = a.Int("groups", 16);
        var perGroup = a.Int("per-group", 8);
        var prefixLength = a.Int("prefix", 512);
        var questionLength = a.Int("question", 64);
        var concurrency = a.Int("concurrency", 4);
        var blocks = a.Int("blocks", 256);
        var seed = a.Int("seed", 42);
        var alpha = a.String("alpha") is { } al ? double.Parse(al, System.Globalization.CultureInfo.InvariantCulture) : (double?)null;
        var maxTokens = 4;

        var rng = new Random(seed);
        var prompts = new List<int[]>();
        for (var g = 0; g < groups; g++)
        {
            var prefix = Tokens(rng, prefixLength);
            for (var q = 0; q < perGroup; q++)
            {
                prompts.Add([.. prefix, .. Tokens(rng, questionLength)]);
            }
        }
        var order = prompts.OrderBy(_ => rng.Next()).ToList();
        long oracle = (long)groups * prefixLength + (long)groups * perGroup * questionLength;

        await WarmUpProcessAsync(order[0].Length, blocks, concurrency, maxTokens);
        var results = new List<PolicyResult>();
        foreach (var policy in Policies)
        {
            results.Add(await RunPolicyAsync(policy, order, blocks, concurrency, maxTokens, oracle, alpha));
        }

        Console.WriteLine($"Routing benchmark — {Workers} workers (4 CPU engines on one silo, {blocks} KV blocks × 16 tokens each), {groups} groups × {perGroup} prompts, {prefixLength}-token prefix + {questionLength}-token question, {maxTokens} output tokens, {concurrency} concurrent callers, seed {seed}");
        Console.WriteLine($"{"policy",-13} {"prefill tok",11} {"× oracle",8} {"hit rate",8} {"req/worker",16} {"max/mean",8} {"TTFT p50",9} {"TTFT p99",9} {"wall s",7}");
        Console.WriteLine($"{"oracle",-13} {oracle,11} {1.0,8:F2}");
        foreach (var r in results)
        {
            Console.WriteLine($"{r.Policy,-13} {r.PrefillTokens,11} {r.PrefillVsOracle,8:F2} {r.PrefixHitRate,8:P1} {string.Join("/", r.RequestsPerWorker),16} {r.MaxOverMean,8:F2} {r.TtftP50Ms,7:F1}ms {r.TtftP99Ms,7:F1}ms {r.WallSeconds,7:F2}");
        }
        var ca = results.Single(r => r.Policy == "cache-aware");
        var rr = results.Single(r => r.Policy == "round-robin");
        var advantage = (double)rr.PrefillTokens / ca.PrefillTokens;
        Console.WriteLine($"cache-aware: {ca.PrefillVsOracle:F2}× oracle prefill (target ≤ 1.10), max/mean {ca.MaxOverMean:F2} (target ≤ 1.5), {advantage:F2}× fewer prefill tokens than round-robin (target ≥ 3)");

        if (a.String("json") is { } path)
        {
            var json = new
            {
                benchmark = "routing",
                machine = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
                setup = new { workers = Workers, topology = "4 engines on one silo, TCP client", kv_blocks_per_worker = blocks, block_size = 16, groups, per_group = perGroup, prefix = prefixLength, question = questionLength, max_tokens = maxTokens, concurrency, seed },
                oracle_prefill_tokens = oracle,
                policies = results,
                cache_aware_vs_round_robin = advantage,
            };
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        }
        return 0;
    }

    /// <summary>
    /// Runs prompts of the workload's length (unrelated tokens) on a throwaway cluster, concurrently as the workload
    /// is sent, so that no policy's run pays for JIT compilation of the long-prefill code paths. Without it, the first
    /// policy measured (cache-aware) had its first <c>concurrency</c> requests at ≈ 450 ms TTFT — its whole p99 — while
    /// the policies measured after it ran warm code. Each policy still starts on a fresh cluster with no history.
    /// </summary>
    private static async Task WarmUpProcessAsync(int promptLength, int blocks, int concurrency, int maxTokens)
    {
        await using var cluster = await LocalCluster.StartAsync(o =>
        {
            o.Model = "builtin";
            o.WorkersPerSilo = Workers;
            o.Policy = "round-robin";
            o.Engine.NumBlocks = blocks;
            o.Engine.CpuThreads = 1;
        }, Workers);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < 6 * Workers)
            {
                await RunOneAsync(cluster.Client, $"process-warmup-{i}", Tokens(new Random(5000 + i), promptLength), maxTokens);
            }
        }));
    }

    private static int[] Tokens(Random rng, int n) => Enumerable.Range(0, n).Select(_ => rng.Next(50_000)).ToArray();

    private static async Task<PolicyResult> RunPolicyAsync(string policy, List<int[]> order, int blocks, int concurrency, int maxTokens, long oracle, double? alpha)
    {
        await using var cluster = await LocalCluster.StartAsync(o =>
        {
            o.Model = "builtin";
            o.WorkersPerSilo = Workers;
            o.Policy = policy;
            o.Engine.NumBlocks = blocks;
            o.Engine.CpuThreads = 1;
            if (alpha is { } x) o.CacheAware.Alpha = x;
        }, Workers);
        var client = cluster.Client;
        var conductor = client.GetGrain<IConductorGrain>("builtin");
        var workers = (await conductor.GetWorkersAsync()).Select(w => w.Registration.WorkerId).ToList();

        // Warm up code paths on a prompt unrelated to the workload, then take the baseline counters.
        for (var i = 0; i < 8; i++)
        {
            await RunOneAsync(client, $"warmup-{policy}-{i}", Tokens(new Random(1000 + i), 48), maxTokens);
        }
        var before = await Task.WhenAll(workers.Select(w => client.GetGrain<IWorkerGrain>(w).GetLoadAsync()));

        var ttfts = new double[order.Count];
        var placedOn = new string[order.Count];
        var next = -1;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < order.Count)
            {
                (ttfts[i], placedOn[i]) = await RunOneAsync(client, $"{policy}-{i}", order[i], maxTokens);
            }
        }));
        wall.Stop();
        var slowest = ttfts.Select((t, i) => (t, i)).OrderByDescending(x => x.t).Take(3).Select(x => $"#{x.i} {x.t:F0} ms");
        Console.WriteLine($"{policy}: slowest requests (position in the order): {string.Join(", ", slowest)}");
        var after = await Task.WhenAll(workers.Select(w => client.GetGrain<IWorkerGrain>(w).GetLoadAsync()));

        var prefill = after.Sum(l => l.PrefillTokensComputed) - before.Sum(l => l.PrefillTokensComputed);
        var hits = after.Sum(l => l.PrefixHitTokens) - before.Sum(l => l.PrefixHitTokens);
        var queries = after.Sum(l => l.PrefixQueryTokens) - before.Sum(l => l.PrefixQueryTokens);
        var perWorker = workers.Select(w => placedOn.Count(p => p == w)).ToArray();
        return new PolicyResult(policy, prefill, (double)prefill / oracle, queries == 0 ? 0 : (double)hits / queries, perWorker,
            perWorker.Max() / perWorker.Average(), Stats.Percentile(ttfts, 50), Stats.Percentile(ttfts, 99), wall.Elapsed.TotalSeconds);
    }

    private static async Task<(double TtftMs, string Worker)> RunOneAsync(IClusterClient client, string id, int[] prompt, int maxTokens)
    {
        var request = new InferenceRequest
        {
            Model = "builtin",
            PromptTokenIds = prompt,
            Sampling = new SamplingOptions { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        };
        var sw = Stopwatch.StartNew();
        double ttft = -1;
        string worker = "";
        await foreach (var c in client.GetGrain<IRequestGrain>(id).GenerateAsync(request))
        {
            if (ttft < 0 && c.TokenIds.Count > 0)
            {
                ttft = sw.Elapsed.TotalMilliseconds;
            }
            worker = c.WorkerId ?? worker;
        }
        return (ttft, worker);
    }
}
