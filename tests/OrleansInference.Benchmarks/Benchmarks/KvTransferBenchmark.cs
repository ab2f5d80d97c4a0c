using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansInference.Native;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Kv;
using OrleansInference.Native.Kv.Transport;
using OrleansInference.Native.Models;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// <c>kv-transfer</c>: disaggregated prefill over the NCCL KV link, as two processes on two GPUs
/// (tests/device/kv-transfer.sh starts them):
/// <c>--role p2p</c> measures the peer-to-peer copy bandwidth GPU 0 → GPU 1 (<c>cuMemcpyPeerAsync</c>), the ceiling;
/// <c>--role prefill</c> (rank 0) prefills prompts, writes the NCCL id to <c>--uid-file</c> and the single-engine
/// references to <c>--reference</c>, then sends the prompts' KV (a warm-up prompt first, then <c>--repeats</c> measured ones);
/// <c>--role decode</c> (rank 1) receives them, checks the KV bytes equal the sender's (checksum) and decodes the first
/// prompt greedily, asserting the tokens equal the sender's single-engine run.
/// With <c>--kill-test</c> the prefill side sends one large prefix; the decode side stops receiving after two layers
/// (prints <c>STALLED</c>) so the script can SIGKILL it mid-transfer; the sender must fail typed within its deadline and
/// release its blocks. Exit code 0 when every check held.
/// </summary>
internal static class KvTransferBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var a = new BenchmarkArgs(args);
        var role = a.String("role") ?? "";
        try
        {
            return role switch
            {
                "p2p" => PeerBandwidth(a),
                "prefill" => await PrefillAsync(a),
                "decode" => await DecodeAsync(a),
                _ => Usage(),
            };
        }
        catch (KvTransferException e)
        {
            Console.WriteLine($"FAILED: KvTransferException({e.Error}): {e.Message}");
            return 1;
        }
    }

    private static int Usage()
    {
        Console.Error.WriteLine("kv-transfer --role p2p|prefill|decode --uid-file F --reference F --device cuda:N --model DIR|builtin " +
            "[--prompt-tokens 2000] [--decode-tokens 32] [--repeats 3] [--timeout-s 30] [--kill-test] [--baseline p2p.json] [--json F]");
        return 2;
    }

    private static int PeerBandwidth(BenchmarkArgs a)
    {
        using var c0 = CudaContext.Open(0);
        using var c1 = CudaContext.Open(1);
        var api = c0.Api;
        int canAccess;
        unsafe
        {
            api.Check(api.cuDeviceCanAccessPeer(&canAccess, c0.Device, c1.Device), "cuDeviceCanAccessPeer");
            if (canAccess != 0)
            {
                c0.MakeCurrent();
                Peer(api, api.cuCtxEnablePeerAccess(c1.Handle.DangerousGetHandle(), 0));
                c1.MakeCurrent();
                Peer(api, api.cuCtxEnablePeerAccess(c0.Handle.DangerousGetHandle(), 0));
            }
        }

        const long bytes = 256L << 20;
        using var src = c0.Allocate(bytes);
        using var dst = c1.Allocate(bytes);
        using var stream = c0.CreateStream();
        using var start = c0.CreateEvent();
        using var end = c0.CreateEvent();
        c0.Memset(src.Pointer, 7, bytes, stream);
        var times = new List<double>();
        for (var i = 0; i < 12; i++)
        {
            c0.MakeCurrent();
            start.Record(stream);
            unsafe
            {
                api.Check(api.cuMemcpyPeerAsync(dst.Pointer, c1.Handle.DangerousGetHandle(), src.Pointer, c0.Handle.DangerousGetHandle(), (nuint)bytes, stream.Value), "cuMemcpyPeerAsync");
            }

            end.Record(stream);
            end.Synchronize();
            if (i >= 2)
            {
                times.Add(end.ElapsedSince(start));
            }
        }

        times.Sort();
        var gbps = bytes / (times[times.Count / 2] / 1e3) / 1e9;
        Console.WriteLine($"p2p copy GPU0 -> GPU1 ({c0.Name} -> {c1.Name}, peer access {(canAccess != 0 ? "on" : "unavailable")}): {gbps:F1} GB/s (median of {times.Count} x {bytes >> 20} MiB)");
        Write(a.String("json"), new JsonObject
        {
            ["device"] = c0.Name, ["peer_access"] = canAccess != 0, ["bytes"] = bytes, ["p2p_gb_per_s"] = gbps,
        });
        return 0;
    }

    private static void Peer(CudaDriverApi api, int result)
    {
        // CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED (704) is fine.
        if (result != 704)
        {
            api.Check(result, "cuCtxEnablePeerAccess");
        }
    }

    private static async Task<int> PrefillAsync(BenchmarkArgs a)
    {
        var kill = a.Flag("kill-test");
        var promptTokens = a.Int("prompt-tokens", kill ? 8192 : 2000);
        var repeats = kill ? 1 : a.Int("repeats", 3);
        var decodeTokens = a.Int("decode-tokens", 32);
        using var model = ModelLoader.Load(a.String("model") ?? "builtin");
        var prompts = Enumerable.Range(0, repeats).Select(i => Prompt(model.Config.VocabSize, promptTokens, 100 + i)).ToList();
        var warmup = Prompt(model.Config.VocabSize, 256, 99);
        await using var engine = NewEngine(model, a, (repeats * promptTokens) + 512);
        Log($"prefill: {engine.Info.Device}, model {engine.Info.ModelId}, {repeats} prompt(s) of {promptTokens} tokens");

        // Single-engine references for the first prompt: cold (whole prompt computed) and warm (prefix from the cache,
        // the tail computed: the same work the receiver does after the transfer).
        var cold = await RunAsync(engine, "cold", prompts[0], decodeTokens);
        var warm = await RunAsync(engine, "warm", prompts[0], decodeTokens);
        foreach (var (p, i) in prompts.Skip(1).Append(warmup).Select((p, i) => (p, i)))
        {
            await RunAsync(engine, $"prefill-{i}", p, 1);
        }

        var checksum = await KvChecksumAsync(engine, prompts[0]);
        Write(a.String("reference"), new JsonObject
        {
            ["prompt"] = Json(prompts[0]), ["cold"] = Json(cold.TokenIds), ["warm"] = Json(warm.TokenIds), ["kv_checksum"] = checksum.ToString(CultureInfo.InvariantCulture),
        });

        var id = KvTransports.CreateNcclId();
        var uidFile = a.String("uid-file") ?? throw new ArgumentException("--uid-file is required");
        File.WriteAllBytes(uidFile + ".tmp", id);
        File.Move(uidFile + ".tmp", uidFile, overwrite: true);
        var options = new KvTransportOptions { Timeout = TimeSpan.FromSeconds(a.Int("timeout-s", 30)), ConnectTimeout = TimeSpan.FromSeconds(120) };
        var clock = Stopwatch.StartNew();
        await using var link = await KvTransports.ConnectNcclAsync(engine, id, 0, options);
        Log($"prefill: NCCL link up in {clock.Elapsed.TotalSeconds:F2} s");
        return kill ? await SendUntilKilledAsync(engine, link, prompts[0], options, a) : await SendAllAsync(engine, link, prompts, warmup, a);
    }

    private static async Task<int> SendAllAsync(InferenceEngine engine, IKvTransport link, List<int[]> prompts, int[] warmup, BenchmarkArgs a)
    {
        var w = await link.SendAsync(warmup);
        Log($"prefill: warm-up transfer {w.BlocksMoved} blocks in {w.Elapsed.TotalMilliseconds:F2} ms");
        var baseline = ReadBaseline(a.String("baseline"));
        var rows = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("| transfer | blocks | MiB | total ms | data ms | data GB/s | of p2p copy |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (var i = 0; i < prompts.Count; i++)
        {
            var r = await link.SendAsync(prompts[i]);
            var gbps = r.Bytes / r.DataElapsed.TotalSeconds / 1e9;
            var of = baseline is { } b ? $"{gbps / b:P0}" : "n/a";
            Console.WriteLine($"| {i} | {r.BlocksMoved} | {r.Bytes / 1048576.0:F1} | {r.Elapsed.TotalMilliseconds:F2} | {r.DataElapsed.TotalMilliseconds:F2} | {gbps:F1} | {of} |");
            rows.Add(new JsonObject
            {
                ["blocks"] = r.BlocksMoved, ["bytes"] = r.Bytes, ["cached_tokens"] = r.CachedTokens, ["total_ms"] = r.Elapsed.TotalMilliseconds,
                ["data_ms"] = r.DataElapsed.TotalMilliseconds, ["data_gb_per_s"] = gbps, ["fraction_of_p2p"] = baseline is { } bb ? gbps / bb : null,
            });
        }

        var load = engine.GetLoad();
        var accounting = await engine.CheckPoolAccountingAsync();
        Console.WriteLine($"prefill: pool after: {accounting}");
        Write(a.String("json"), new JsonObject
        {
            ["role"] = "prefill", ["device"] = engine.Info.Device, ["model"] = engine.Info.ModelId, ["block_bytes"] = engine.Backend.Layout.BlockBytes,
            ["p2p_gb_per_s"] = baseline, ["transfers"] = rows, ["pool_clean"] = accounting.IsClean && accounting.Referenced == 0, ["free_blocks"] = load.FreeBlocks,
        });
        return accounting.IsClean && accounting.Referenced == 0 ? 0 : 1;
    }

    private static async Task<int> SendUntilKilledAsync(InferenceEngine engine, IKvTransport link, int[] prompt, KvTransportOptions options, BenchmarkArgs a)
    {
        var before = engine.GetLoad();
        Log($"prefill: pool before: total {before.TotalBlocks}, free {before.FreeBlocks}, cached {before.CachedBlocks}, held {Held(before)}");
        var clock = Stopwatch.StartNew();
        var send = link.SendAsync(prompt);
        var during = -1;
        while (!send.IsCompleted)
        {
            await Task.WhenAny(send, Task.Delay(250));
            var l = engine.GetLoad();
            during = Math.Max(during, Held(l));
        }

        string outcome;
        var typed = false;
        try
        {
            var r = await send;
            outcome = $"UNEXPECTED SUCCESS: {r.BlocksMoved} blocks moved";
        }
        catch (KvTransferException e)
        {
            typed = true;
            outcome = $"KvTransferException({e.Error}): {e.Message}";
        }
        catch (Exception e)
        {
            outcome = $"UNTYPED {e.GetType().Name}: {e.Message}";
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var accounting = await engine.CheckPoolAccountingAsync();
        var after = engine.GetLoad();
        var inTime = seconds <= options.Timeout.TotalSeconds + 10;
        var clean = accounting.IsClean && accounting.Referenced == 0;
        Log($"prefill: sender failed after {seconds:F2} s (deadline {options.Timeout.TotalSeconds:F0} s): {outcome}");
        Log($"prefill: held blocks during the transfer (max seen) {during}; pool after: total {after.TotalBlocks}, free {after.FreeBlocks}, cached {after.CachedBlocks}, held {Held(after)}; accounting {accounting}");
        Log($"kill test: {(typed && inTime && clean ? "PASS" : "FAIL")} (typed {typed}, within deadline {inTime}, blocks released {clean})");
        Write(a.String("json"), new JsonObject
        {
            ["role"] = "prefill-kill", ["outcome"] = outcome, ["typed"] = typed, ["seconds"] = seconds, ["deadline_s"] = options.Timeout.TotalSeconds,
            ["held_before"] = Held(before), ["held_during_max"] = during, ["held_after"] = Held(after), ["cached_after"] = after.CachedBlocks,
            ["pool_clean"] = clean, ["pass"] = typed && inTime && clean,
        });
        return typed && inTime && clean ? 0 : 1;
    }

    private static async Task<int> DecodeAsync(BenchmarkArgs a)
    {
        var kill = a.Flag("kill-test");
        var decodeTokens = a.Int("decode-tokens", 32);
        var repeats = kill ? 1 : a.Int("repeats", 3);
        using var model = ModelLoader.Load(a.String("model") ?? "builtin");
        await using var engine = NewEngine(model, a, (repeats * a.Int("prompt-tokens", kill ? 8192 : 2000)) + 1024);
        Log($"decode: {engine.Info.Device}, model {engine.Info.ModelId}");
        var uidFile = a.String("uid-file") ?? throw new ArgumentException("--uid-file is required");
        var waitUntil = Stopwatch.StartNew();
        while (!File.Exists(uidFile))
        {
            if (waitUntil.Elapsed > TimeSpan.FromSeconds(150))
            {
                Console.WriteLine("FAILED: no NCCL id file " + uidFile);
                return 1;
            }

            await Task.Delay(100);
        }

        var options = new KvTransportOptions { Timeout = TimeSpan.FromSeconds(a.Int("timeout-s", 30)), ConnectTimeout = TimeSpan.FromSeconds(120) };
        if (kill)
        {
            options.StagingMiB = 1; // one layer per round, so the stall below lands between layers
            options.RoundReceived = layers =>
            {
                if (layers >= 2)
                {
                    Log($"decode: STALLED after {layers} layers, pid={Environment.ProcessId} (waiting to be killed)");
                    Thread.Sleep(Timeout.Infinite);
                }
            };
        }

        await using var link = await KvTransports.ConnectNcclAsync(engine, await File.ReadAllBytesAsync(uidFile), 1, options);
        Log("decode: NCCL link up");
        var received = new List<KvTransferResult>();
        for (var i = 0; i < repeats + 1; i++)
        {
            received.Add(await link.ReceiveAsync());
        }

        var reference = JsonNode.Parse(await File.ReadAllTextAsync(a.String("reference") ?? throw new ArgumentException("--reference is required")))!;
        var prompt = reference["prompt"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        var cold = reference["cold"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        var warm = reference["warm"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
        var checksum = await KvChecksumAsync(engine, prompt);
        var kvEqual = checksum.ToString(CultureInfo.InvariantCulture) == reference["kv_checksum"]!.GetValue<string>();
        var first = received[1];
        var output = await RunAsync(engine, "decode", prompt, decodeTokens);
        var load = engine.GetLoad();
        var equalWarm = output.TokenIds.SequenceEqual(warm);
        var equalCold = output.TokenIds.SequenceEqual(cold);
        var cachedOk = output.CachedPromptTokens == first.CachedTokens && first.CachedTokens == prompt.Length / engine.Info.BlockSize * engine.Info.BlockSize;
        Console.WriteLine();
        Console.WriteLine("| check | result |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| transfers received | {string.Join(", ", received.Select(r => $"{r.BlocksMoved} blocks / {r.DataElapsed.TotalMilliseconds:F2} ms"))} |");
        Console.WriteLine($"| KV bytes equal the sender's (checksum) | {kvEqual} |");
        Console.WriteLine($"| prompt tokens served from transferred KV | {output.CachedPromptTokens} of {prompt.Length} |");
        Console.WriteLine($"| {decodeTokens} greedy tokens equal the sender's warm single-engine run | {equalWarm} |");
        Console.WriteLine($"| ... equal its cold run (whole prompt computed in one pass) | {equalCold} |");
        if (!equalWarm)
        {
            var at = Enumerable.Range(0, Math.Min(warm.Length, output.TokenIds.Count)).FirstOrDefault(i => warm[i] != output.TokenIds[i], -1);
            Console.WriteLine($"first difference at output token {at}: decode {string.Join(",", output.TokenIds)} vs warm {string.Join(",", warm)}");
        }

        var pass = kvEqual && equalWarm && cachedOk;
        Log($"decode: {(pass ? "PASS" : "FAIL")}");
        Write(a.String("json"), new JsonObject
        {
            ["role"] = "decode", ["device"] = engine.Info.Device, ["kv_checksum_equal"] = kvEqual, ["tokens_equal_warm"] = equalWarm, ["tokens_equal_cold"] = equalCold,
            ["cached_prompt_tokens"] = output.CachedPromptTokens, ["prompt_tokens"] = prompt.Length, ["prefill_tokens_computed"] = load.PrefillTokensComputed,
            ["tokens"] = Json(output.TokenIds), ["pass"] = pass,
            ["received"] = new JsonArray(received.Select(r => (JsonNode)new JsonObject { ["blocks"] = r.BlocksMoved, ["present"] = r.BlocksPresent, ["data_ms"] = r.DataElapsed.TotalMilliseconds }).ToArray()),
        });
        return pass ? 0 : 1;
    }

    private static InferenceEngine NewEngine(LoadedModel model, BenchmarkArgs a, int tokens)
    {
        var device = a.String("device") ?? "cuda:0";
        var ordinal = device.StartsWith("cuda:", StringComparison.Ordinal) ? int.Parse(device.AsSpan(5), CultureInfo.InvariantCulture) : 0;
        var options = new EngineOptions { Device = device, BlockSize = 16, NumBlocks = (tokens / 16) + 64, MaxBatchTokens = 2048, MaxModelLength = 0 };
        var backend = new CudaBackend(model, ordinal, options.NumBlocks, options.BlockSize, new CudaBackendOptions { MaxBatchTokens = options.MaxBatchTokens });
        return new InferenceEngine(model, backend, options);
    }

    private static async Task<GenerationOutput> RunAsync(InferenceEngine engine, string id, int[] prompt, int maxTokens)
    {
        var outputs = await engine.Submit(new GenerationRequest
        {
            RequestId = id,
            PromptTokenIds = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
        }).CollectAsync();
        var o = outputs[0];
        if (o.Error is not null)
        {
            throw new InvalidOperationException($"request {id} failed: {o.Error}");
        }

        return o;
    }

    /// <summary>A checksum of the prefix's KV bytes as this engine caches them (the OIKV export's block data).</summary>
    private static async Task<ulong> KvChecksumAsync(InferenceEngine engine, int[] prompt)
    {
        var payload = await engine.ExportKvAsync(prompt);
        return payload is null ? 0 : KvTransferFormat.Checksum(KvTransferFormat.Read(payload).BlockData.Span);
    }

    private static int Held(EngineLoad l) => l.TotalBlocks - l.FreeBlocks - l.CachedBlocks;

    private static int[] Prompt(int vocab, int length, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => r.Next(Math.Min(vocab - 1, 100_000))).ToArray();
    }

    private static JsonArray Json(IEnumerable<int> values) => new(values.Select(v => (JsonNode)v).ToArray());

    private static double? ReadBaseline(string? path) =>
        path is not null && File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path))?["p2p_gb_per_s"]?.GetValue<double>() : null;

    private static void Write(string? path, JsonObject json)
    {
        if (path is not null)
        {
            File.WriteAllText(path + ".tmp", json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            File.Move(path + ".tmp", path, overwrite: true);
        }
    }

    private static void Log(string line) => Console.WriteLine($"[{DateTime.UtcNow:HH:mm:ss.fff}] {line}");
}
