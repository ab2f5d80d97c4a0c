using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// The engine on the CPU backend with the built-in model: decode tokens/s at batch 1 and 16 (128-token prompts,
/// 128 output tokens, greedy, EOS ignored), prefill tokens/s (16 × 512-token prompts), and peak memory.
/// Options: <c>--threads N</c> (CPU threads, 0 = all cores), <c>--json FILE</c>.
/// </summary>
internal static class EngineBenchmark
{
    private const int PromptTokens = 128;
    private const int OutputTokens = 128;
    private const int PrefillPrompts = 16;
    private const int PrefillPromptTokens = 512;
    private const int Repeats = 5;

    public static async Task<int> RunAsync(string[] args)
    {
        var a = new BenchmarkArgs(args);
        var threads = a.Int("threads", 0);
        using var model = BuiltinModel.Create();
        using var memory = new PeakMemorySampler();
        var options = new EngineOptions
        {
            NumBlocks = 1024,
            BlockSize = 16,
            MaxBatchTokens = 512,
            MaxRunningSequences = 64,
            EnablePrefixCaching = false, // every phase computes its prompts
            CpuThreads = threads,
        };
        await using var engine = InferenceEngine.Create(model, options);

        // Warm-up with every shape, then give tiered JIT time to install optimized code: the first run of a shape
        // otherwise measures tier-0 code (several times slower).
        for (var i = 0; i < 2; i++)
        {
            await Decode(engine, "warmup-b1", 1, PromptTokens, OutputTokens);
            await Decode(engine, "warmup-b16", 16, PromptTokens, 32);
            await Task.Delay(300);
        }
        var b1 = await Decode(engine, "decode-b1", 1, PromptTokens, OutputTokens);
        var b16 = await Decode(engine, "decode-b16", 16, PromptTokens, OutputTokens);

        var prefill = await Prefill(engine);
        var mem = memory.Stop();
        var floorB1 = BackendBaseline.DecodeStepMs(model, threads, 1, PromptTokens, OutputTokens);
        var floorB16 = BackendBaseline.DecodeStepMs(model, threads, 16, PromptTokens, OutputTokens);

        var results = new[] { b1, b16, prefill };
        Console.WriteLine($"Engine benchmark — built-in model (hidden 64, 2 layers, vocab 50257), CPU backend, {Environment.ProcessorCount} cores, threads={(threads == 0 ? Environment.ProcessorCount : threads)}");
        Console.WriteLine($"{"phase",-11} {"requests",8} {"prompt",7} {"output",7} {"wall s",8} {"tok/s",10} {"TTFT p50 ms",12} {"ITL p50 ms",11} {"ITL p99 ms",11}");
        foreach (var r in results)
        {
            Console.WriteLine($"{r.Phase,-11} {r.Requests,8} {r.PromptTokens,7} {r.OutputTokens,7} {r.WallSeconds,8:F2} {r.TokensPerSecond,10:F0} {r.TtftP50Ms,12:F1} {r.ItlP50Ms,11:F2} {r.ItlP99Ms,11:F2}");
        }
        Console.WriteLine($"median of {Repeats} runs; tok/s: decode phases count output tokens produced while every request was decoding, prefill counts prompt tokens.");
        Console.WriteLine($"backend alone (forward + argmax), median ms/step: batch 1 {floorB1:F2}, batch 16 {floorB16:F2} (engine ITL p50 above includes scheduling, sampling, detokenizing, channels)");
        Console.WriteLine($"peak working set {mem.PeakWorkingSetMiB:F0} MiB, peak GC heap {mem.PeakGcHeapMiB:F0} MiB, KV pool {engine.Info.BlockSize * options.NumBlocks} tokens");

        if (a.String("json") is { } path)
        {
            var json = new
            {
                benchmark = "engine",
                machine = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
                model = "builtin",
                device = engine.Info.Device,
                threads = threads == 0 ? Environment.ProcessorCount : threads,
                phases = results,
                backend_step_ms = new { batch1 = floorB1, batch16 = floorB16 },
                memory = mem,
            };
            await File.WriteAllTextAsync(path, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            Console.WriteLine($"wrote {path}");
        }
        return 0;
    }

    /// <summary>Runs a phase <see cref="Repeats"/> times and keeps the run with the median throughput (a shared machine is noisy).</summary>
    private static async Task<PhaseResult> Median(Func<Task<PhaseResult>> phase)
    {
        var runs = new List<PhaseResult>();
        for (var i = 0; i < Repeats; i++)
        {
            runs.Add(await phase());
        }
        return runs.OrderBy(r => r.TokensPerSecond).ElementAt(Repeats / 2);
    }

    private static async Task<PhaseResult> Decode(InferenceEngine engine, string phase, int batch, int prompt, int output)
    {
        var start = Stopwatch.GetTimestamp();
        var runs = Enumerable.Range(0, batch)
            .Select(i => Collect(engine, Request($"{phase}-{i}", Prompt(i + batch * 1000, prompt), output), start))
            .ToList();
        var traces = await Task.WhenAll(runs);
        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;

        // Steady decode: from the moment the last request got its first token to the moment the first one finished.
        var from = traces.Max(t => t.TokenTimes[0]);
        var to = traces.Min(t => t.TokenTimes[^1]);
        var tokens = traces.Sum(t => t.TokenTimes.Count(x => x > from && x <= to));
        var itl = traces.SelectMany(t => t.TokenTimes.Zip(t.TokenTimes.Skip(1), (x, y) => (y - x) * 1000)).Order().ToArray();
        var ttft = traces.Select(t => t.TokenTimes[0] * 1000).Order().ToArray();
        return new PhaseResult(phase, batch, prompt, output, wall, to > from ? tokens / (to - from) : 0,
            Percentile(ttft, 0.5), Percentile(itl, 0.5), Percentile(itl, 0.99));
    }

    private static async Task<PhaseResult> Prefill(InferenceEngine engine)
    {
        var start = Stopwatch.GetTimestamp();
        var before = engine.GetLoad().PrefillTokensComputed;
        var traces = await Task.WhenAll(Enumerable.Range(0, PrefillPrompts)
            .Select(i => Collect(engine, Request($"prefill-{i}", Prompt(5000 + i, PrefillPromptTokens), 1), start)));
        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var computed = engine.GetLoad().PrefillTokensComputed - before;
        var ttft = traces.Select(t => t.TokenTimes[0] * 1000).Order().ToArray();
        return new PhaseResult("prefill", PrefillPrompts, PrefillPromptTokens, 1, wall, computed / wall, Percentile(ttft, 0.5), 0, 0);
    }

    private static GenerationRequest Request(string id, int[] prompt, int output) => new()
    {
        RequestId = id,
        PromptTokenIds = prompt,
        Sampling = new SamplingParams { Temperature = 0, MaxTokens = output, IgnoreEos = true },
    };

    private static int[] Prompt(int seed, int length)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => r.Next(50_000)).ToArray();
    }

    /// <summary>Reads a stream, noting when each token arrived (seconds since <paramref name="start"/>).</summary>
    private static async Task<Trace> Collect(InferenceEngine engine, GenerationRequest request, long start)
    {
        var times = new List<double>();
        await foreach (var u in engine.Submit(request))
        {
            var t = Stopwatch.GetElapsedTime(start).TotalSeconds;
            times.AddRange(Enumerable.Repeat(t, u.TokenIds.Count));
            if (u.FinishReason is FinishReason.Error or FinishReason.Aborted)
            {
                throw new InvalidOperationException($"{request.RequestId} ended with {u.FinishReason}: {u.Error}");
            }
        }
        return new Trace(times);
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Floor(q * sorted.Length))];

    private sealed record Trace(List<double> TokenTimes);

    private sealed record PhaseResult(string Phase, int Requests, int PromptTokens, int OutputTokens, double WallSeconds,
        double TokensPerSecond, double TtftP50Ms, double ItlP50Ms, double ItlP99Ms);
}
