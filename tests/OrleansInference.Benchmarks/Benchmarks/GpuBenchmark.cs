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
/// <c>gpu</c>: the CUDA backend on a Llama-3.2-1B-shaped model (random bf16 weights, made by
/// tests/device/make_llama1b.py) against what the same run measures as ceilings: device copy bandwidth (decode
/// roofline: weights + KV bytes per step), the bf16 GEMM rate (prefill), and PyTorch transformers on the same
/// weights (tests/device/bench_transformers.py, read from --transformers). Decode runs at batch 1–256 with
/// 1,024-token contexts (the KV pool filled with random values), prefill at 512 and 2,048 tokens.
/// </summary>
internal static class GpuBenchmark
{
    private static readonly int[] Batches = [1, 8, 32, 64, 128, 256];
    private static readonly int[] PrefillLengths = [512, 2048];
    private const int Context = 1024;
    private const int DecodeSteps = 24;

    public static int Run(string[] args)
    {
        string? model = Option(args, "--model");
        string? transformersJson = Option(args, "--transformers");
        string json = Option(args, "--json") ?? "gpu-benchmark.json";
        if (model is null)
        {
            Console.Error.WriteLine("gpu: --model DIR is required (a Hugging Face Llama directory)");
            return 2;
        }

        if (args.Contains("--profile"))
        {
            return Profile(model, int.Parse(Option(args, "--prefill-attention") ?? "3", CultureInfo.InvariantCulture));
        }

        var result = new JsonObject();
        using var loaded = ModelLoader.Load(model);
        var c = loaded.Config;
        int blockSize = 16;
        int blocksPerSeq = (Context + 64 + blockSize - 1) / blockSize;
        int numBlocks = (Batches[^1] * blocksPerSeq) + 16;
        var sw = Stopwatch.StartNew();
        using var backend = new CudaBackend(loaded, 0, numBlocks, blockSize, new CudaBackendOptions { MaxSequences = Batches[^1], MaxBatchTokens = 2048 });
        double loadSeconds = sw.Elapsed.TotalSeconds;
        var ctx = backend.Context;
        result["device"] = backend.DeviceName;
        result["model"] = new JsonObject
        {
            ["hidden"] = c.HiddenSize, ["layers"] = c.NumLayers, ["heads"] = c.NumHeads, ["kv_heads"] = c.NumKvHeads,
            ["head_dim"] = c.HeadDim, ["intermediate"] = c.IntermediateSize, ["vocab"] = c.VocabSize, ["tied"] = c.TieWordEmbeddings,
            ["weight_bytes"] = backend.WeightBytes,
        };
        result["load_seconds"] = loadSeconds;

        double bandwidth = CopyBandwidth(backend);
        double gemmRate = GemmRate(backend, 8192, 8192, 8192);
        result["copy_bandwidth_bytes_per_s"] = bandwidth;
        result["gemm_bf16_flop_per_s"] = gemmRate;
        Console.WriteLine($"device: {backend.DeviceName}; copy bandwidth {bandwidth / 1e12:F2} TB/s (read + write); bf16 GEMM 8192³ {gemmRate / 1e12:F0} TFLOP/s; weights {backend.WeightBytes / 1e9:F2} GB, loaded in {loadSeconds:F1} s");

        var hf = transformersJson is not null && File.Exists(transformersJson) ? JsonNode.Parse(File.ReadAllText(transformersJson)) : null;
        backend.FillPoolRandom(42, 1.0f);
        long kvBytesPerToken = 2L * c.NumLayers * c.NumKvHeads * c.HeadDim * 2;
        var decode = new JsonArray();
        bool skipDecode = args.Contains("--skip-decode");  // prefill-only runs while working on prefill kernels
        if (!skipDecode)
        {
            Console.WriteLine();
            Console.WriteLine("| decode batch | ctx | step ms | tok/s | roofline tok/s | of roofline | transformers tok/s | speed-up |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (int b in Batches)
            {
                double stepMs = DecodeStep(backend, b, blocksPerSeq);
                double bytes = backend.WeightBytes + ((double)b * Context * kvBytesPerToken);
                double rooflineMs = bytes / bandwidth * 1e3;
                double tps = b / stepMs * 1e3;
                double? hfTps = hf?["decode"]?[b.ToString(CultureInfo.InvariantCulture)]?.GetValue<double>();
                decode.Add(new JsonObject
                {
                    ["batch"] = b, ["context"] = Context, ["step_ms"] = stepMs, ["tokens_per_s"] = tps,
                    ["roofline_tokens_per_s"] = b / rooflineMs * 1e3, ["fraction_of_roofline"] = rooflineMs / stepMs,
                    ["transformers_tokens_per_s"] = hfTps, ["speedup_vs_transformers"] = hfTps is null ? null : tps / hfTps,
                });
                Console.WriteLine($"| {b} | {Context} | {stepMs:F3} | {tps:F0} | {b / rooflineMs * 1e3:F0} | {rooflineMs / stepMs:P1} | {Fmt(hfTps, "F0")} | {Fmt(hfTps is null ? null : tps / hfTps, "F1")}× |");
            }

            double logitsStepMs = DecodeStep(backend, 1, blocksPerSeq, logitsToHost: true);
            result["decode_batch1_persistent"] = PersistentComparison(backend, blocksPerSeq, rounds: 5);
            // The comparisons below are of the five-launch fused layer (and its neighbours), not the persistent kernel.
            bool persistentDefault = backend.PersistentDecode;
            backend.PersistentDecode = false;
            bool pdl = backend.ProgrammaticLaunch;
            backend.ProgrammaticLaunch = false;
            double plain1 = DecodeStep(backend, 1, blocksPerSeq), plain256 = DecodeStep(backend, 256, blocksPerSeq);
            backend.ProgrammaticLaunch = pdl;
            result["decode_step_ms_without_programmatic_launch"] = new JsonObject { ["1"] = plain1, ["256"] = plain256 };
            Console.WriteLine($"(without programmatic dependent launch: batch 1 {plain1:F3} ms/step, batch 256 {plain256:F3} ms/step; it was {(pdl ? "on" : "off")} above)");
            // The decode layer as five launches (fused) or nine, per small batch, measured back to back.
            var fusion = new JsonObject();
            var fusionText = new List<string>();
            foreach (int b in new[] { 1, 2 })
            {
                backend.FuseSmallBatches = false;
                double separate = DecodeStep(backend, b, blocksPerSeq);
                backend.FuseSmallBatches = true;
                double fused = DecodeStep(backend, b, blocksPerSeq);
                fusion[b.ToString(CultureInfo.InvariantCulture)] = new JsonObject { ["fused_step_ms"] = fused, ["separate_step_ms"] = separate };
                fusionText.Add(string.Create(CultureInfo.InvariantCulture, $"batch {b} {fused:F3} vs {separate:F3}"));
            }

            result["decode_fused_vs_separate_kernels"] = fusion;
            // Where the fused layer's RMSNorms run: in the consuming QKV and gate/up GEMVs, or the residual GEMVs' last block.
            var norms = AlternatingRounds(backend, blocksPerSeq, 3, [("norm_by_last_block", on => backend.NormInPairs = !on), ("norm_in_consumer", _ => { })]);
            result["decode_batch1_norm_placement"] = new JsonObject
            {
                ["norm_in_consumer_step_ms"] = norms["norm_in_consumer"], ["norm_by_last_block_step_ms"] = norms["norm_by_last_block"],
            };
            Console.WriteLine($"(batch 1 ms/step, medians of 3 alternating rounds: RMSNorm computed by the QKV and gate/up GEMVs {norms["norm_in_consumer"]:F3}; by the O and down GEMVs' last block {norms["norm_by_last_block"]:F3})");
            Console.WriteLine($"(decode ms/step with RoPE, SwiGLU and RMSNorm folded into the GEMVs vs as kernels of their own: {string.Join("; ", fusionText)})");
            result["decode_batch1_stage_ablation"] = StageAblation(backend, blocksPerSeq, 3, "fused stage (five launches per layer)");
            int splits0 = backend.MaxDecodeSplits;
            var bySplits = AlternatingRounds(backend, blocksPerSeq, 3, [.. new[] { 4, 8, 16 }.Select(sp =>
                (sp.ToString(CultureInfo.InvariantCulture), (Action<bool>)(on => backend.MaxDecodeSplits = on ? sp : splits0)))]);
            result["decode_batch1_step_ms_by_context_splits"] = ToJson(bySplits, "");
            Console.WriteLine($"(batch 1 ms/step by context splits of the decode attention, medians of 3 alternating rounds: {Listing(bySplits, "F3")})");
            backend.PersistentDecode = persistentDefault;
            backend.DecodeAttentionVersion = 1;
            double firstKernel256 = DecodeStep(backend, 256, blocksPerSeq);
            backend.DecodeAttentionVersion = 2;
            result["decode_batch256_step_ms_first_attention_kernel"] = firstKernel256;
            Console.WriteLine($"(batch 256 with the first decode attention kernel: {firstKernel256:F3} ms/step)");
            result["decode"] = decode;
            result["decode_batch1_with_logits_to_host_step_ms"] = logitsStepMs;
            Console.WriteLine($"(batch 1 with the full logits row copied to the host instead of the device argmax: {logitsStepMs:F3} ms/step)");
        }

        var prefill = new JsonArray();
        bool skipPrefill = args.Contains("--skip-prefill");  // decode-only runs while working on decode kernels
        Console.WriteLine();
        Console.WriteLine("| prefill tokens | ms | tok/s | TFLOP/s | of GEMM rate | transformers tok/s | speed-up |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        long layerParams = ((long)c.HiddenSize * ((c.NumHeads + (2 * c.NumKvHeads)) * c.HeadDim)) + ((long)c.NumHeads * c.HeadDim * c.HiddenSize) + (3L * c.HiddenSize * c.IntermediateSize);
        foreach (int t in skipPrefill ? [] : PrefillLengths)
        {
            double ms = PrefillTime(backend, t);
            double flops = (2.0 * t * layerParams * c.NumLayers) + (2.0 * c.HiddenSize * c.VocabSize)
                + (4.0 * c.NumLayers * c.NumHeads * c.HeadDim * (t * (t + 1) / 2.0));
            double rate = flops / (ms / 1e3);
            double tps = t / ms * 1e3;
            double? hfTps = hf?["prefill"]?[t.ToString(CultureInfo.InvariantCulture)]?.GetValue<double>();
            prefill.Add(new JsonObject
            {
                ["tokens"] = t, ["ms"] = ms, ["tokens_per_s"] = tps, ["flop_per_s"] = rate, ["fraction_of_gemm_rate"] = rate / gemmRate,
                ["transformers_tokens_per_s"] = hfTps, ["speedup_vs_transformers"] = hfTps is null ? null : tps / hfTps,
            });
            Console.WriteLine($"| {t} | {ms:F2} | {tps:F0} | {rate / 1e12:F0} | {rate / gemmRate:P1} | {Fmt(hfTps, "F0")} | {Fmt(hfTps is null ? null : tps / hfTps, "F1")}× |");
        }

        result["prefill"] = prefill;
        if (!skipPrefill)
        {
            int attentionVersion = backend.PrefillAttentionVersion;
            var byVersion = PrefillByAttentionKernel(backend, [1, 2, 3], rounds: 4);
            backend.PrefillAttentionVersion = attentionVersion;
            result["prefill_ms_by_attention_kernel"] = byVersion;
            Console.WriteLine($"(prefill 512 / 2048 ms by attention kernel, medians of 4 interleaved rounds — 1 plain: {byVersion["1"]!["512"]:F2} / {byVersion["1"]!["2048"]:F2}; 2 pipelined, 16 rows per warp: {byVersion["2"]!["512"]:F2} / {byVersion["2"]!["2048"]:F2}; 3 pipelined, 32 rows per warp: {byVersion["3"]!["512"]:F2} / {byVersion["3"]!["2048"]:F2}; version {attentionVersion} above)");
            result["prefill_products"] = PrefillProducts(backend, c, 2048);
        }

        result["breakdown_ms_per_step"] = Breakdown(backend, blocksPerSeq);
        result["matmul_choices_batch1"] = Choices(backend, 1);
        result["transformers"] = hf?.DeepClone();
        File.WriteAllText(json, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        Console.WriteLine($"wrote {json}");
        return 0;
    }

    /// <summary>
    /// For Nsight Compute (<c>ncu --profile-from-start off</c>): after warm-up and tuning, one eager decode step at
    /// batch 1 and at batch 256 and one 2,048-token prefill run between cuProfilerStart and cuProfilerStop.
    /// </summary>
    private static int Profile(string model, int prefillAttention)
    {
        using var loaded = ModelLoader.Load(model);
        int blocksPerSeq = (Context + 64 + 15) / 16;
        var options = new CudaBackendOptions { MaxSequences = 256, MaxBatchTokens = 2048, UseCudaGraphs = false };
        using var backend = new CudaBackend(loaded, 0, (256 * blocksPerSeq) + 16, 16, options);
        backend.PrefillAttentionVersion = prefillAttention;
        backend.FillPoolRandom(42, 1f);
        DecodeStep(backend, 1, blocksPerSeq);
        DecodeStep(backend, 256, blocksPerSeq);
        PrefillTime(backend, 2048);
        var api = backend.Context.Api;
        unsafe
        {
            api.Check(api.cuProfilerStart(), "cuProfilerStart");
        }

        var ids = new int[256];
        var table = Enumerable.Range(0, blocksPerSeq).ToArray();
        backend.ForwardGreedy([new SequenceChunk([5], Context, table, LogitsMode.Last)], ids);
        backend.ForwardGreedy(Enumerable.Range(0, 256).Select(s => new SequenceChunk([s], Context, Enumerable.Range(s * blocksPerSeq, blocksPerSeq).ToArray(), LogitsMode.Last)).ToArray(), ids);
        backend.ForwardGreedy([new SequenceChunk(Enumerable.Range(0, 2048).ToArray(), 0, Enumerable.Range(0, 128).ToArray(), LogitsMode.Last)], ids);
        unsafe
        {
            api.Check(api.cuProfilerStop(), "cuProfilerStop");
        }

        Console.WriteLine("profiled: decode b=1, decode b=256, prefill 2048 (eager)");
        return 0;
    }

    /// <summary>Device time per stage, from eager (ungraphed) steps with an event after each stage.</summary>
    private static JsonObject Breakdown(CudaBackend backend, int blocksPerSeq)
    {
        using var profiler = new StepProfiler(backend.Context);
        backend.Profiler = profiler;
        var runs = new (string Name, Action Run)[]
        {
            ("decode b=1", () => DecodeStep(backend, 1, blocksPerSeq)),
            ("decode b=64", () => DecodeStep(backend, 64, blocksPerSeq)),
            ("decode b=256", () => DecodeStep(backend, 256, blocksPerSeq)),
            ("prefill 2048", () => PrefillTime(backend, 2048)),
        };
        var table = new JsonObject();
        var columns = new List<Dictionary<string, double>>();
        foreach (var (name, run) in runs)
        {
            run();
            profiler.Reset();
            run();
            var perStep = profiler.TotalMs.ToDictionary(kv => kv.Key, kv => kv.Value / profiler.Steps);
            columns.Add(perStep);
            table[name] = new JsonObject(perStep.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        }

        backend.Profiler = null;
        Console.WriteLine();
        Console.WriteLine($"| stage (ms per step, eager) | {string.Join(" | ", runs.Select(r => r.Name))} |");
        Console.WriteLine($"| --- |{string.Concat(runs.Select(_ => " ---: |"))}");
        foreach (var stage in columns.SelectMany(c => c.Keys).Distinct())
        {
            Console.WriteLine($"| {stage} | {string.Join(" | ", columns.Select(c => c.TryGetValue(stage, out var v) ? v.ToString("F3", CultureInfo.InvariantCulture) : "–"))} |");
        }

        Console.WriteLine($"| total | {string.Join(" | ", columns.Select(c => c.Values.Sum().ToString("F3", CultureInfo.InvariantCulture)))} |");
        return table;
    }

    private static JsonObject Choices(CudaBackend backend, int m)
    {
        var c = backend.Model;
        int qkv = (c.NumHeads + (2 * c.NumKvHeads)) * c.HeadDim;
        string Name(int? choice) => choice is null ? "unprepared" : choice < 0 ? $"gemv/{1 << (-choice.Value - 1)}" : $"cublasLt#{choice}";
        var result = new JsonObject
        {
            ["qkv"] = Name(backend.MatMul.ChoiceFor(qkv, c.HiddenSize, m, GemmOutput.BFloat16, false)),
            ["o"] = Name(backend.MatMul.ChoiceFor(c.HiddenSize, c.NumHeads * c.HeadDim, m, GemmOutput.Float32, true)),
            ["gate_up"] = Name(backend.MatMul.ChoiceFor(2 * c.IntermediateSize, c.HiddenSize, m, GemmOutput.BFloat16, false)),
            ["down"] = Name(backend.MatMul.ChoiceFor(c.HiddenSize, c.IntermediateSize, m, GemmOutput.Float32, true)),
            ["lm_head"] = Name(backend.MatMul.ChoiceFor(c.VocabSize, c.HiddenSize, m, GemmOutput.Float32, false)),
        };
        Console.WriteLine($"matmul choices at {m} row(s): {result.ToJsonString()}");
        return result;
    }

    private static string Fmt(double? v, string format) => v is null ? "–" : v.Value.ToString(format, CultureInfo.InvariantCulture);

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>Median ms of one decode step of <paramref name="batch"/> sequences at ~1,024 tokens of context.</summary>
    private static double DecodeStep(CudaBackend backend, int batch, int blocksPerSeq, bool logitsToHost = false)
    {
        var tables = Enumerable.Range(0, batch).Select(s => Enumerable.Range(s * blocksPerSeq, blocksPerSeq).ToArray()).ToArray();
        var ids = new int[batch];
        var logits = logitsToHost ? new float[batch * backend.Model.VocabSize] : [];
        var times = new List<double>();
        var chunks = new SequenceChunk[batch];
        for (int step = 0; step < DecodeSteps + 3; step++)
        {
            for (int s = 0; s < batch; s++)
            {
                chunks[s] = new SequenceChunk([(s * 7919 + step * 31) % 128000], Context + step, tables[s], LogitsMode.Last);
            }

            long t0 = Stopwatch.GetTimestamp();
            if (logitsToHost)
            {
                backend.Forward(chunks, logits);
            }
            else
            {
                backend.ForwardGreedy(chunks, ids);
            }

            if (step >= 3)
            {
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }

        return Median(times);
    }

    private static double PrefillTime(CudaBackend backend, int tokens)
    {
        var prompt = Enumerable.Range(0, tokens).Select(i => (i * 7919) % 128000).ToArray();
        var table = Enumerable.Range(0, (tokens + 15) / 16).ToArray();
        var ids = new int[1];
        var times = new List<double>();
        for (int i = 0; i < 7; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            backend.ForwardGreedy([new SequenceChunk(prompt, 0, table, LogitsMode.Last)], ids);
            if (i >= 2)
            {
                times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
        }

        return Median(times);
    }

    /// <summary>
    /// Batch-1 step time with every layer in one persistent launch, its variants (block shape, attention splits) and the
    /// five launches per layer, the settings taking turns over several rounds; then each persistent phase's share.
    /// </summary>
    private static JsonObject PersistentComparison(CudaBackend backend, int blocksPerSeq, int rounds)
    {
        bool wide0 = backend.PersistentWide;
        int splits0 = backend.MaxDecodeSplits;
        Action<bool> Variant(bool wide, int splits) => on =>
        {
            backend.PersistentWide = on ? wide : wide0;
            backend.MaxDecodeSplits = on ? splits : splits0;
        };
        var times = AlternatingRounds(backend, blocksPerSeq, rounds,
        [
            ("persistent_1x16_warps_16_splits", Variant(true, 16)),
            ("persistent_1x16_warps_8_splits", Variant(true, 8)),
            ("persistent_1x16_warps_4_splits", Variant(true, 4)),
            ("persistent_1x16_warps_2_splits", Variant(true, 2)),
            ("persistent_1x16_warps_1_split", Variant(true, 1)),
            ("persistent_2x8_warps_16_splits", Variant(false, 16)),
            ("five_launches_per_layer", on => backend.PersistentDecode = !on),
        ]);
        Console.WriteLine($"(batch 1 ms/step, medians of {rounds} alternating rounds: {Listing(times, "F3")})");
        var json = ToJson(times, "_step_ms");
        var (registers, localBytes) = backend.PersistentResources;
        Console.WriteLine($"(persistent kernel: {registers} registers and {localBytes} bytes of local memory (spills) per thread)");
        json["registers_per_thread"] = registers;
        json["local_bytes_per_thread"] = localBytes;
        json["phase_ablation"] = StageAblation(backend, blocksPerSeq, rounds, "persistent kernel phase (barriers kept)");
        return json;
    }

    /// <summary>
    /// What each stage of the batch-1 decode layer costs inside the replayed graph, overlap included: the step with that
    /// stage (and with every stage) left out of every layer, against the whole step, over alternating rounds (medians).
    /// </summary>
    private static JsonObject StageAblation(CudaBackend backend, int blocksPerSeq, int rounds, string what)
    {
        (string Name, DecodeStages Stages)[] stages =
        [
            ("qkv", DecodeStages.Qkv), ("attention", DecodeStages.Attention), ("o", DecodeStages.O), ("gate_up", DecodeStages.GateUp),
            ("down", DecodeStages.Down), ("all", DecodeStages.All),
        ];
        var times = AlternatingRounds(backend, blocksPerSeq, rounds,
            [("full", _ => { }), .. stages.Select(x => (x.Name, (Action<bool>)(on => backend.OmittedStages = on ? x.Stages : DecodeStages.None)))]);
        double full = times["full"];
        int layers = backend.Model.NumLayers;
        var perLayer = stages.ToDictionary(x => x.Name, x => (full - times[x.Name]) / layers * 1e3);
        var json = ToJson(perLayer, "_us_per_layer");
        json["full_step_ms"] = full;
        Console.WriteLine($"(batch 1, µs per layer each {what} adds to the replayed step, {rounds} alternating rounds, step {full:F3} ms: {Listing(perLayer, "F1")}; what is left with all left out: embedding, LM head{(backend.PersistentDecode ? ", barriers" : "")})");
        return json;
    }

    /// <summary>
    /// Batch-1 step time under each setting, the settings taking turns over <paramref name="rounds"/> rounds (each one
    /// switched on for its measurement and off after, so clock drift does not favour one); medians by name.
    /// </summary>
    private static Dictionary<string, double> AlternatingRounds(CudaBackend backend, int blocksPerSeq, int rounds, (string Name, Action<bool> Set)[] settings)
    {
        var times = settings.ToDictionary(x => x.Name, _ => new List<double>());
        for (int r = 0; r < rounds; r++)
        {
            foreach (var (name, set) in settings)
            {
                set(true);
                times[name].Add(DecodeStep(backend, 1, blocksPerSeq));
                set(false);
            }
        }

        return settings.ToDictionary(x => x.Name, x => Median(times[x.Name]));
    }

    private static JsonObject ToJson(Dictionary<string, double> values, string suffix)
    {
        var json = new JsonObject();
        foreach (var (name, value) in values)
        {
            json[name + suffix] = value;
        }

        return json;
    }

    private static string Listing(Dictionary<string, double> values, string format) =>
        string.Join("; ", values.Select(x => $"{x.Key} {x.Value.ToString(format, CultureInfo.InvariantCulture)}"));

    /// <summary>
    /// Prefill time per attention kernel, the kernels taking turns over several rounds (each round every kernel at 512
    /// and 2,048 tokens) so that a drift of the machine's clocks during the run is shared rather than charged to one
    /// kernel; the median of the rounds is reported.
    /// </summary>
    private static JsonObject PrefillByAttentionKernel(CudaBackend backend, int[] versions, int rounds)
    {
        var samples = versions.ToDictionary(v => v, _ => (Short: new List<double>(), Long: new List<double>()));
        for (int r = 0; r < rounds; r++)
        {
            foreach (int v in versions)
            {
                backend.PrefillAttentionVersion = v;
                samples[v].Short.Add(PrefillTime(backend, 512));
                samples[v].Long.Add(PrefillTime(backend, 2048));
            }
        }

        var result = new JsonObject();
        foreach (int v in versions)
        {
            result[v.ToString(CultureInfo.InvariantCulture)] = new JsonObject { ["512"] = Median(samples[v].Short), ["2048"] = Median(samples[v].Long) };
        }

        return result;
    }

    /// <summary>Bytes read plus written per second by a 1 GiB device-to-device copy (median of 10 after warm-up).</summary>
    private static double CopyBandwidth(CudaBackend backend)
    {
        var ctx = backend.Context;
        const long bytes = 1L << 30;
        using var a = ctx.Allocate(bytes);
        using var b = ctx.Allocate(bytes);
        backend.FillRandom(a.Pointer, bytes / 2, 7, 1f);
        var times = TimeOnStream(backend, 12, () => ctx.CopyDeviceToDevice(b.Pointer, a.Pointer, bytes, backend.Stream));
        return 2.0 * bytes / (Median(times) / 1e3);
    }

    /// <summary>
    /// The layer's four products at a prefill of <paramref name="m"/> tokens, on random data: TFLOP/s of cuBLASLt's
    /// first heuristic choice and of the fastest of its candidates (what the backend's tuning keeps).
    /// </summary>
    private static JsonArray PrefillProducts(CudaBackend backend, ModelConfig c, int m)
    {
        var ctx = backend.Context;
        int q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim;
        var shapes = new (string Name, int N, int K, GemmOutput Out, bool Acc)[]
        {
            ("qkv", q + (2 * kv), c.HiddenSize, GemmOutput.BFloat16, false),
            ("o (+= residual)", c.HiddenSize, q, GemmOutput.Float32, true),
            ("gate_up", 2 * c.IntermediateSize, c.HiddenSize, GemmOutput.BFloat16, false),
            ("down (+= residual)", c.HiddenSize, c.IntermediateSize, GemmOutput.Float32, true),
        };
        var table = new JsonArray();
        Console.WriteLine();
        Console.WriteLine($"| product at {m} tokens | N × K | candidates | first choice TFLOP/s | fastest TFLOP/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var (name, n, k, output, acc) in shapes)
        {
            using var w = ctx.Allocate((long)n * k * 2);
            using var x = ctx.Allocate((long)m * k * 2);
            using var y = ctx.Allocate((long)m * n * 4);
            backend.FillRandom(w.Pointer, (long)n * k, 1, 1f);
            backend.FillRandom(x.Pointer, (long)m * k, 2, 1f);
            ctx.Memset(y.Pointer, 0, (long)m * n * 4, backend.Stream);
            int candidates = backend.Gemm.Candidates(n, k, m, output, acc);
            var rates = new double[candidates];
            for (int i = 0; i < candidates; i++)
            {
                int candidate = i;
                var times = TimeOnStream(backend, 8, () => backend.Gemm.Run(w.Pointer, n, k, x.Pointer, m, y.Pointer, output, acc, backend.Stream, candidate));
                rates[i] = 2.0 * m * n * k / (Median(times) / 1e3);
            }

            table.Add(new JsonObject { ["product"] = name, ["n"] = n, ["k"] = k, ["m"] = m, ["candidates"] = candidates, ["first_flop_per_s"] = rates[0], ["fastest_flop_per_s"] = rates.Max() });
            Console.WriteLine($"| {name} | {n} × {k} | {candidates} | {rates[0] / 1e12:F0} | {rates.Max() / 1e12:F0} |");
        }

        return table;
    }

    /// <summary>bf16 FLOP/s of X[m, k]·W[n, k]ᵀ through the backend's cuBLASLt runner, on random data.</summary>
    private static double GemmRate(CudaBackend backend, int m, int n, int k)
    {
        var ctx = backend.Context;
        using var w = ctx.Allocate((long)n * k * 2);
        using var x = ctx.Allocate((long)m * k * 2);
        using var y = ctx.Allocate((long)m * n * 2);
        backend.FillRandom(w.Pointer, (long)n * k, 1, 1f);
        backend.FillRandom(x.Pointer, (long)m * k, 2, 1f);
        var times = TimeOnStream(backend, 12, () => backend.Gemm.Run(w.Pointer, n, k, x.Pointer, m, y.Pointer, GemmOutput.BFloat16, false, backend.Stream));
        return 2.0 * m * n * k / (Median(times) / 1e3);
    }

    /// <summary>Each run timed with CUDA events on the backend's stream, after two warm-ups; milliseconds.</summary>
    private static List<double> TimeOnStream(CudaBackend backend, int runs, Action work)
    {
        var ctx = backend.Context;
        using var start = ctx.CreateEvent();
        using var end = ctx.CreateEvent();
        var times = new List<double>();
        for (int i = 0; i < runs + 2; i++)
        {
            start.Record(backend.Stream);
            work();
            end.Record(backend.Stream);
            end.Synchronize();
            if (i >= 2)
            {
                times.Add(end.ElapsedSince(start));
            }
        }

        return times;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
