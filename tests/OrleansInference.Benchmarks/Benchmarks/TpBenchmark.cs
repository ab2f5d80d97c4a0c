using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// <c>tp</c>: tensor parallelism on a Hugging Face Llama directory (e.g. the Llama-3.2-1B-shaped model of
/// tests/device/make_llama1b.py), for each size in <c>--tp 1,2</c>: TP=1 is <see cref="CudaBackend"/> on GPU 0, TP=N
/// is <see cref="CudaTensorParallelBackend"/> on GPUs 0..N-1. Agreement with TP=1: max |Δlogit| over a 128-token
/// prompt's rows and over a 32-step teacher-forced decode on TP=1's greedy path, argmax agreement on both, and how many
/// of 32 free-running greedy tokens equal TP=1's. Speed: decode tok/s at batch 1 and 64 (1,024-token contexts, KV pool
/// filled with random values, graphs, device argmax) and prefill tok/s at 2,048 tokens.
/// </summary>
internal static class TpBenchmark
{
    private const int Context = 1024;
    private const int BlockSize = 16;
    private const int PromptTokens = 128;
    private const int GreedySteps = 32;
    private static readonly int[] DecodeBatches = [1, 64];
    private const int PrefillTokens = 2048;

    private delegate void GreedyStep(IReadOnlyList<SequenceChunk> chunks, Span<int> ids);

    public static int Run(string[] args)
    {
        var a = new BenchmarkArgs(args);
        string? modelDir = a.String("model");
        string json = a.String("json") ?? "tp-benchmark.json";
        var sizes = (a.String("tp") ?? "1,2").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (modelDir is null || sizes.Length == 0 || sizes[0] != 1)
        {
            Console.Error.WriteLine("tp: --model DIR is required; --tp must start with 1 (the reference), e.g. --tp 1,2");
            return 2;
        }

        using var model = ModelLoader.Load(modelDir);
        var c = model.Config;
        int gpus = CudaDriverApi.Load().DeviceCount();
        int blocksPerSeq = (Context + 64 + BlockSize - 1) / BlockSize;
        int checkBase = DecodeBatches[^1] * blocksPerSeq;
        int numBlocks = checkBase + 64;
        var options = new CudaBackendOptions { MaxSequences = DecodeBatches[^1], MaxBatchTokens = PrefillTokens };
        var result = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["dir"] = modelDir, ["hidden"] = c.HiddenSize, ["layers"] = c.NumLayers, ["heads"] = c.NumHeads, ["kv_heads"] = c.NumKvHeads,
                ["head_dim"] = c.HeadDim, ["intermediate"] = c.IntermediateSize, ["vocab"] = c.VocabSize,
            },
            ["gpus_present"] = gpus,
        };
        var rows = new JsonArray();
        Reference? reference = null;
        Console.WriteLine($"model {modelDir}: hidden {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads}/{c.NumKvHeads} heads, MLP {c.IntermediateSize}, vocab {c.VocabSize}; {gpus} GPU(s)");
        Console.WriteLine();
        Console.WriteLine("| TP | GPUs | load s | weights GB (all GPUs) | max abs Δlogit prompt | max abs Δlogit decode | argmax agree prompt | argmax agree decode | greedy 32 equal | decode b=1 tok/s | decode b=64 tok/s | prefill 2048 tok/s |");
        Console.WriteLine("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int tp in sizes)
        {
            var row = new JsonObject { ["tp"] = tp };
            rows.Add(row);
            if (tp > gpus)
            {
                row["skipped"] = $"needs {tp} GPUs; {gpus} present";
                Console.WriteLine($"| {tp} | – | skipped: needs {tp} GPUs, {gpus} present |");
                continue;
            }

            try
            {
                var sw = Stopwatch.StartNew();
                IComputeBackend backend = tp == 1
                    ? new CudaBackend(model, 0, numBlocks, BlockSize, options)
                    : new CudaTensorParallelBackend(model, Enumerable.Range(0, tp).ToArray(), numBlocks, BlockSize, options);
                using var _ = backend;
                double load = sw.Elapsed.TotalSeconds;
                GreedyStep greedy = backend is CudaBackend one ? one.ForwardGreedy : ((CudaTensorParallelBackend)backend).ForwardGreedy;
                long weightBytes = backend is CudaBackend o1 ? o1.WeightBytes : ((CudaTensorParallelBackend)backend).WeightBytes;
                row["device"] = backend is CudaBackend o2 ? o2.DeviceName : ((CudaTensorParallelBackend)backend).DeviceName;
                row["load_seconds"] = load;
                row["weight_bytes"] = weightBytes;

                var check = Agreement(backend, greedy, checkBase, ref reference, row);
                if (backend is CudaBackend fill1)
                {
                    fill1.FillPoolRandom(42, 1f);
                }
                else
                {
                    ((CudaTensorParallelBackend)backend).FillPoolRandom(42, 1f);
                }

                var decode = new JsonObject();
                var tps = new List<double>();
                foreach (int b in DecodeBatches)
                {
                    double ms = DecodeStep(greedy, b, blocksPerSeq);
                    decode[b.ToString(CultureInfo.InvariantCulture)] = new JsonObject { ["step_ms"] = ms, ["tokens_per_s"] = b / ms * 1e3 };
                    tps.Add(b / ms * 1e3);
                }

                double prefillMs = PrefillTime(greedy, PrefillTokens);
                row["decode_context"] = Context;
                row["decode"] = decode;
                row["prefill"] = new JsonObject { ["tokens"] = PrefillTokens, ["ms"] = prefillMs, ["tokens_per_s"] = PrefillTokens / prefillMs * 1e3 };
                Console.WriteLine($"| {tp} | {row["device"]} | {load:F1} | {weightBytes / 1e9:F2} | {check.PromptDelta:G3} | {check.DecodeDelta:G3} | {check.PromptAgree}/{PromptTokens} | {check.DecodeAgree}/{GreedySteps} | {check.GreedyEqual}/{GreedySteps} | {tps[0]:F0} | {tps[1]:F0} | {PrefillTokens / prefillMs * 1e3:F0} |");
            }
            catch (Exception e) when (e is CudaException or NotSupportedException or ArgumentException or InvalidOperationException)
            {
                row["error"] = e.GetType().Name + ": " + e.Message;
                Console.WriteLine($"| {tp} | – | failed: {e.GetType().Name}: {e.Message} |");
            }
        }

        result["runs"] = rows;
        File.WriteAllText(json, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        Console.WriteLine("Δlogit and agreement are against TP=1 (argmax agree decode: on TP=1's greedy path, teacher-forced; greedy 32 equal: free-running tokens equal to TP=1's, position by position).");
        Console.WriteLine($"wrote {json}");
        return 0;
    }

    /// <summary>TP=1's outputs: prompt logits, greedy path, each decode step's logits.</summary>
    private sealed record Reference(int[] Prompt, float[] PromptLogits, int[] Greedy, float[] DecodeLogits);

    private readonly record struct Check(double PromptDelta, double DecodeDelta, int PromptAgree, int DecodeAgree, int GreedyEqual);

    private static Check Agreement(IComputeBackend backend, GreedyStep greedy, int blockBase, ref Reference? reference, JsonObject row)
    {
        int vocab = backend.Model.VocabSize;
        var rng = new Random(1234);
        var prompt = reference?.Prompt ?? Enumerable.Range(0, PromptTokens).Select(_ => rng.Next(1000, Math.Min(vocab, 120000))).ToArray();
        int[] tableA = Enumerable.Range(blockBase, 16).ToArray();
        int[] tableB = Enumerable.Range(blockBase + 16, 16).ToArray();
        var promptLogits = new float[PromptTokens * vocab];
        backend.Forward([new SequenceChunk(prompt, 0, tableA, LogitsMode.All)], promptLogits);

        // Teacher-forced on the reference's greedy path (TP=1 makes the path as it goes).
        var path = reference?.Greedy ?? new int[GreedySteps];
        var decodeLogits = new float[GreedySteps * vocab];
        var stepLogits = promptLogits.AsSpan((PromptTokens - 1) * vocab, vocab);
        for (int i = 0; i < GreedySteps; i++)
        {
            if (i > 0)
            {
                backend.Forward([new SequenceChunk([path[i - 1]], PromptTokens + i - 1, tableA, LogitsMode.Last)], decodeLogits.AsSpan(i * vocab, vocab));
                stepLogits = decodeLogits.AsSpan(i * vocab, vocab);
            }
            else
            {
                stepLogits.CopyTo(decodeLogits.AsSpan(0, vocab));
            }

            if (reference is null)
            {
                path[i] = ArgMax(stepLogits);
            }
        }

        // Free-running greedy on the device (graphs, device argmax) on other blocks.
        var ids = new int[1];
        var own = new int[GreedySteps];
        greedy([new SequenceChunk(prompt, 0, tableB, LogitsMode.Last)], ids);
        own[0] = ids[0];
        for (int i = 1; i < GreedySteps; i++)
        {
            greedy([new SequenceChunk([own[i - 1]], PromptTokens + i - 1, tableB, LogitsMode.Last)], ids);
            own[i] = ids[0];
        }

        if (reference is null)
        {
            reference = new Reference(prompt, promptLogits, path, decodeLogits);
            row["greedy_tokens"] = new JsonArray(own.Select(t => (JsonNode?)t).ToArray());
            row["greedy_equals_host_argmax_path"] = own.SequenceEqual(path);
            return new Check(0, 0, PromptTokens, GreedySteps, own.Zip(path).Count(p => p.First == p.Second));
        }

        var (pd, pa) = Compare(reference.PromptLogits, promptLogits, PromptTokens, vocab);
        var (dd, da) = Compare(reference.DecodeLogits, decodeLogits, GreedySteps, vocab);
        var referencePath = reference.Greedy;
        int equal = own.Zip(referencePath).Count(p => p.First == p.Second);
        int firstDiff = Enumerable.Range(0, GreedySteps).FirstOrDefault(i => own[i] != referencePath[i], GreedySteps);
        double scale = reference.PromptLogits.Max(Math.Abs);
        row["max_abs_delta_logit_prompt"] = pd;
        row["max_abs_delta_logit_decode"] = dd;
        row["max_abs_logit_reference"] = scale;
        row["argmax_agree_prompt"] = pa;
        row["argmax_agree_decode"] = da;
        row["greedy_equal"] = equal;
        row["greedy_first_difference"] = firstDiff;
        row["greedy_tokens"] = new JsonArray(own.Select(t => (JsonNode?)t).ToArray());
        return new Check(pd, dd, pa, da, equal);
    }

    private static (double MaxDelta, int ArgmaxAgree) Compare(float[] expected, float[] actual, int rows, int vocab)
    {
        double worst = 0;
        int agree = 0;
        for (int r = 0; r < rows; r++)
        {
            var e = expected.AsSpan(r * vocab, vocab);
            var a = actual.AsSpan(r * vocab, vocab);
            for (int i = 0; i < vocab; i++)
            {
                worst = Math.Max(worst, Math.Abs(e[i] - a[i]));
            }

            agree += ArgMax(e) == ArgMax(a) ? 1 : 0;
        }

        return (worst, agree);
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Median ms of one greedy decode step of <paramref name="batch"/> sequences at ~1,024 tokens of context.</summary>
    private static double DecodeStep(GreedyStep greedy, int batch, int blocksPerSeq)
    {
        var tables = Enumerable.Range(0, batch).Select(s => Enumerable.Range(s * blocksPerSeq, blocksPerSeq).ToArray()).ToArray();
        var ids = new int[batch];
        var times = new List<double>();
        var chunks = new SequenceChunk[batch];
        for (int step = 0; step < 27; step++)
        {
            for (int s = 0; s < batch; s++)
            {
                chunks[s] = new SequenceChunk([((s * 7919) + (step * 31)) % 128000], Context + step, tables[s], LogitsMode.Last);
            }

            long t0 = Stopwatch.GetTimestamp();
            greedy(chunks, ids);
            if (step >= 3)
            {
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }

        return Median(times);
    }

    private static double PrefillTime(GreedyStep greedy, int tokens)
    {
        var prompt = Enumerable.Range(0, tokens).Select(i => (i * 7919) % 128000).ToArray();
        var table = Enumerable.Range(0, (tokens + BlockSize - 1) / BlockSize).ToArray();
        var ids = new int[1];
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            greedy([new SequenceChunk(prompt, 0, table, LogitsMode.Last)], ids);
            if (i >= 2)
            {
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }

        return Median(times);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
