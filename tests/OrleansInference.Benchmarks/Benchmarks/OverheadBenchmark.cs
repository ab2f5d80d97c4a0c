using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansInference.Client;
using OrleansInference.Grains;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// What the control plane adds to time to first token: the same requests (distinct 64-token prompts, so neither path
/// hits a prefix cache; 4 output tokens, greedy), one at a time, through an Orleans client connected over loopback TCP
/// to a one-silo cluster (client → request grain → conductor → worker grain → engine and back), and on an identical
/// engine called directly in the same process; and the SDK (<see cref="OrleansInferenceClient"/>, which adds the
/// re-attach and idle-timer machinery) over the same Orleans client. The added time reported is the SDK's. Options: <c>--requests</c> (200), <c>--prompt</c> (64),
/// <c>--json FILE</c>.
/// </summary>
internal static class OverheadBenchmark
{
    private sealed record PathResult(string Path, int Requests, double TtftP50Ms, double TtftP90Ms, double TtftP99Ms, double MeanMs);

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new BenchmarkArgs(args);
        var requests = a.Int("requests", 200);
        var promptLength = a.Int("prompt", 64);
        const int warmup = 30;
        const int maxTokens = 4;

        await using var cluster = await LocalCluster.StartAsync(o =>
        {
            o.Model = "builtin";
            o.WorkersPerSilo = 1;
            o.Engine.NumBlocks = 1024;
            o.Engine.CpuThreads = 1;
        }, 1);
        using var model = ModelLoader.Load("builtin");
        await using var engine = InferenceEngine.Create(model, new EngineOptions { NumBlocks = 1024, CpuThreads = 1 });

        var rng = new Random(3);
        int[] Prompt() => Enumerable.Range(0, promptLength).Select(_ => rng.Next(50_000)).ToArray();

        var sdk = new OrleansInferenceClient(cluster.Client, Options.Create(new OrleansInferenceClientOptions()));
        var direct = new List<double>();
        var viaOrleans = new List<double>();
        var viaSdk = new List<double>();
        // Interleaved so all paths see the same machine state (other processes, JIT tiers, GC), in an order that rotates
        // each round: a request that directly follows another finds the thread pool's threads awake and is faster.
        var paths = new Func<int, Task<double>>[]
        {
            i => DirectAsync(engine, $"direct-{i}", Prompt(), maxTokens),
            i => ViaOrleansAsync(cluster.Client, $"orleans-{i}", Prompt(), maxTokens),
            i => ViaSdkAsync(sdk, $"sdk-{i}", Prompt(), maxTokens),
        };
        var samples = new[] { direct, viaOrleans, viaSdk };
        for (var i = 0; i < warmup + requests; i++)
        {
            for (var j = 0; j < paths.Length; j++)
            {
                var p = (i + j) % paths.Length;
                var ttft = await paths[p](i);
                if (i >= warmup) samples[p].Add(ttft);
            }
        }

        var results = new[]
        {
            new PathResult("engine direct", requests, Stats.Percentile(direct, 50), Stats.Percentile(direct, 90), Stats.Percentile(direct, 99), direct.Average()),
            new PathResult("orleans client", requests, Stats.Percentile(viaOrleans, 50), Stats.Percentile(viaOrleans, 90), Stats.Percentile(viaOrleans, 99), viaOrleans.Average()),
            new PathResult("sdk", requests, Stats.Percentile(viaSdk, 50), Stats.Percentile(viaSdk, 90), Stats.Percentile(viaSdk, 99), viaSdk.Average()),
        };
        var addedP50 = results[2].TtftP50Ms - results[0].TtftP50Ms;
        var addedP99 = results[2].TtftP99Ms - results[0].TtftP99Ms;
        var grainCallAddedP50 = results[1].TtftP50Ms - results[0].TtftP50Ms;
        Console.WriteLine($"Overhead benchmark — TTFT, {requests} requests one at a time ({warmup} warm-up), {promptLength}-token prompts, built-in model on CPU, {Environment.ProcessorCount} cores");
        Console.WriteLine($"{"path",-15} {"p50 ms",8} {"p90 ms",8} {"p99 ms",8} {"mean ms",8}");
        foreach (var r in results)
        {
            Console.WriteLine($"{r.Path,-15} {r.TtftP50Ms,8:F3} {r.TtftP90Ms,8:F3} {r.TtftP99Ms,8:F3} {r.MeanMs,8:F3}");
        }
        Console.WriteLine($"added by the control plane (SDK → grains → engine): p50 {addedP50:F3} ms (goal ≤ 1 ms), p99 {addedP99:F3} ms; plain grain call: p50 {grainCallAddedP50:F3} ms");

        if (a.String("json") is { } path)
        {
            var json = new
            {
                benchmark = "overhead",
                machine = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
                setup = new { requests, warmup, prompt = promptLength, max_tokens = maxTokens, topology = "one silo + Orleans client over loopback TCP, same process; sdk = OrleansInferenceClient over that client" },
                paths = results,
                added_p50_ms = addedP50,
                added_p99_ms = addedP99,
                grain_call_added_p50_ms = grainCallAddedP50,
            };
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        }
        return 0;
    }

    private static async Task<double> DirectAsync(IInferenceEngine engine, string id, int[] prompt, int maxTokens)
    {
        var sw = Stopwatch.StartNew();
        double ttft = -1;
        await foreach (var u in engine.Submit(new GenerationRequest
        {
            RequestId = id,
            PromptTokenIds = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        }))
        {
            if (ttft < 0 && u.TokenIds.Count > 0) ttft = sw.Elapsed.TotalMilliseconds;
        }
        return ttft;
    }

    private static InferenceRequest Greedy(int[] prompt, int maxTokens) => new()
    {
        Model = "builtin",
        PromptTokenIds = prompt,
        Sampling = new SamplingOptions { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
    };

    private static async Task<double> ViaSdkAsync(OrleansInferenceClient sdk, string id, int[] prompt, int maxTokens)
    {
        var request = Greedy(prompt, maxTokens);
        var sw = Stopwatch.StartNew();
        double ttft = -1;
        await foreach (var c in sdk.StreamAsync(id, request))
        {
            if (ttft < 0 && c.TokenIds.Count > 0) ttft = sw.Elapsed.TotalMilliseconds;
        }
        return ttft;
    }

    private static async Task<double> ViaOrleansAsync(IClusterClient client, string id, int[] prompt, int maxTokens)
    {
        var request = Greedy(prompt, maxTokens);
        var sw = Stopwatch.StartNew();
        double ttft = -1;
        await foreach (var c in client.GetGrain<IRequestGrain>(id).GenerateAsync(request))
        {
            if (ttft < 0 && c.TokenIds.Count > 0) ttft = sw.Elapsed.TotalMilliseconds;
        }
        return ttft;
    }
}
