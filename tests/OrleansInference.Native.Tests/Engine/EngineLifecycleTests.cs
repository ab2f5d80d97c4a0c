using OrleansInference.Native.Engine;
using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>Aborts, consumers that stop early, shutdown, refusals and stop conditions: nothing leaks, nothing hangs.</summary>
public sealed class EngineLifecycleTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Abort_mid_stream_ends_the_stream_and_frees_every_block()
    {
        await using var engine = fx.NewEngine();
        var stream = engine.Submit(Greedy("long", Prompt(1, 40), 1000));
        var updates = new List<GenerationUpdate>();
        await foreach (var u in stream.WithCancellation(Ct))
        {
            updates.Add(u);
            if (updates.Count == 3)
            {
                Assert.True(engine.Abort("long"));
            }
        }
        Assert.Equal(FinishReason.Aborted, updates[^1].FinishReason);
        Assert.InRange(updates.Count, 4, 999);
        Assert.False(engine.Abort("long"));
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task A_consumer_that_stops_reading_aborts_its_request()
    {
        await using var engine = fx.NewEngine();
        var n = 0;
        await foreach (var _ in engine.Submit(Greedy("walk-away", Prompt(2, 40), 1000)).WithCancellation(Ct))
        {
            if (++n == 2)
            {
                break;
            }
        }
        await engine.AssertPoolCleanAsync();
        Assert.False(engine.Abort("walk-away"));

        // Cancellation of the enumeration works the same way.
        using var cts = new CancellationTokenSource();
        var m = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in engine.Submit(Greedy("cancelled", Prompt(3, 40), 1000)).WithCancellation(cts.Token))
            {
                if (++m == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Aborting_a_waiting_request_and_an_unknown_id()
    {
        await using var engine = fx.NewEngine(o => o.MaxRunningSequences = 1);
        var first = engine.Submit(Greedy("first", Prompt(4, 10), 200)).CollectAsync(Ct);
        var second = engine.Submit(Greedy("second", Prompt(5, 10), 200));
        Assert.True(engine.Abort("second"));
        Assert.False(engine.Abort("never-submitted"));
        var aborted = Assert.Single(await second.CollectAsync(Ct));
        Assert.Equal(FinishReason.Aborted, aborted.FinishReason);
        Assert.Equal(200, Assert.Single(await first).TokenIds.Count);
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Disposing_ends_every_open_stream_with_an_error()
    {
        var engine = fx.NewEngine(o => o.MaxRunningSequences = 1);
        var running = engine.Submit(Greedy("a", Prompt(6, 10), 1000)).CollectAsync(Ct);
        var queued = engine.Submit(Greedy("b", Prompt(7, 10), 1000)).CollectAsync(Ct);
        await engine.DisposeAsync();
        foreach (var output in (await running).Concat(await queued))
        {
            Assert.Equal(FinishReason.Error, output.FinishReason);
            Assert.Equal("engine stopped", output.Error);
        }
        var refused = Assert.Throws<EngineRequestException>(() => engine.Submit(Greedy("c", Prompt(8, 4), 4)));
        Assert.Equal(EngineErrorKind.Unavailable, refused.Kind);
        await Assert.ThrowsAsync<EngineRequestException>(() => engine.ScoreAsync([1, 2, 3], 0, Ct));
    }

    public static TheoryData<string, EngineErrorKind, string> BadRequests => new()
    {
        { "both prompt forms", EngineErrorKind.InvalidRequest, "prompt" },
        { "no prompt", EngineErrorKind.InvalidRequest, "prompt" },
        { "empty prompt", EngineErrorKind.InvalidRequest, "prompt" },
        { "id outside vocabulary", EngineErrorKind.InvalidRequest, "prompt" },
        { "negative id", EngineErrorKind.InvalidRequest, "prompt" },
        { "bad temperature", EngineErrorKind.InvalidRequest, "temperature" },
        { "bad top_p", EngineErrorKind.InvalidRequest, "top_p" },
        { "zero max tokens", EngineErrorKind.InvalidRequest, "max_tokens" },
        { "resume with n = 2", EngineErrorKind.InvalidRequest, "n" },
        { "resumed id outside vocabulary", EngineErrorKind.InvalidRequest, "resume_output_token_ids" },
        { "n above running limit", EngineErrorKind.InvalidRequest, "n" },
        { "empty request id", EngineErrorKind.InvalidRequest, "request_id" },
        { "longer than the model", EngineErrorKind.PromptTooLong, "max_tokens" },
        { "more blocks than the pool", EngineErrorKind.PromptTooLong, "max_tokens" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Invalid_requests_are_refused_with_the_right_kind_and_nothing_leaks(string what, EngineErrorKind kind, string parameter)
    {
        await using var engine = fx.NewEngine(o => { o.NumBlocks = 8; o.MaxModelLength = 1024; o.MaxRunningSequences = 4; });
        var ok = Greedy("r", Prompt(9, 10), 4);
        var request = what switch
        {
            "both prompt forms" => ok with { PromptText = "hello" },
            "no prompt" => ok with { PromptTokenIds = null },
            "empty prompt" => ok with { PromptTokenIds = [] },
            "id outside vocabulary" => ok with { PromptTokenIds = [1, 2, 50257] },
            "negative id" => ok with { PromptTokenIds = [1, -2] },
            "bad temperature" => ok with { Sampling = ok.Sampling with { Temperature = -1 } },
            "bad top_p" => ok with { Sampling = ok.Sampling with { TopP = 0 } },
            "zero max tokens" => ok with { Sampling = ok.Sampling with { MaxTokens = 0 } },
            "resume with n = 2" => ok with { Sampling = ok.Sampling with { N = 2 }, ResumeOutputTokenIds = [5] },
            "resumed id outside vocabulary" => ok with { ResumeOutputTokenIds = [99999] },
            "n above running limit" => ok with { Sampling = ok.Sampling with { N = 5 } },
            "empty request id" => ok with { RequestId = "" },
            "longer than the model" => ok with { Sampling = ok.Sampling with { MaxTokens = 1015 } },
            "more blocks than the pool" => ok with { Sampling = ok.Sampling with { MaxTokens = 200 } },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
        var e = Assert.Throws<EngineRequestException>(() => engine.Submit(request));
        Assert.Equal(kind, e.Kind);
        Assert.Equal(parameter, e.Parameter);
        Assert.False(engine.Abort("r"));

        // The engine still serves the same id afterwards, and nothing was left behind.
        Assert.Equal(4, (await engine.RunAsync(ok)).TokenIds.Count);
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Duplicate_ids_and_a_full_queue_are_refused()
    {
        await using var engine = fx.NewEngine();
        var first = engine.Submit(Greedy("dup", Prompt(10, 8), 300)).CollectAsync(Ct);
        var dup = Assert.Throws<EngineRequestException>(() => engine.Submit(Greedy("dup", Prompt(11, 8), 3)));
        Assert.Equal(EngineErrorKind.DuplicateRequest, dup.Kind);
        Assert.Equal(300, Assert.Single(await first).TokenIds.Count);

        await using var full = fx.NewEngine(o => o.MaxQueuedRequests = 0);
        var overloaded = Assert.Throws<EngineRequestException>(() => full.Submit(Greedy("x", Prompt(12, 8), 3)));
        Assert.Equal(EngineErrorKind.Overloaded, overloaded.Kind);
        await full.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Stop_token_ids_and_stop_strings_end_a_sample()
    {
        await using var engine = fx.NewEngine();
        var prompt = Prompt(13, 12);
        var free = await engine.RunAsync(Greedy("free", prompt, 30));

        // Stop at the fifth generated token's id: that token is the last one, reported as the stop reason.
        var stopId = free.TokenIds[4];
        var firstAt = free.TokenIds.ToList().IndexOf(stopId);
        var byId = await engine.RunAsync(Greedy("id", prompt, 30) with { Sampling = new SamplingParams { Temperature = 0, MaxTokens = 30, StopTokenIds = [stopId] } });
        Assert.Equal(free.TokenIds.Take(firstAt + 1), byId.TokenIds);
        Assert.Equal(FinishReason.Stop, byId.FinishReason);
        Assert.Equal(stopId.ToString(System.Globalization.CultureInfo.InvariantCulture), byId.StopReason);

        // A stop string taken from the middle of the free-running text: output is cut just before it.
        var text = free.Text;
        var stop = text.Substring(text.Length / 2, 3);
        var cut = text.IndexOf(stop, StringComparison.Ordinal);
        var byString = await engine.RunAsync(Greedy("str", prompt, 30) with { Sampling = new SamplingParams { Temperature = 0, MaxTokens = 30, StopStrings = [stop] } });
        Assert.Equal(FinishReason.Stop, byString.FinishReason);
        Assert.Equal(stop, byString.StopReason);
        Assert.Equal(text[..cut], byString.Text);
        Assert.Equal(engine.Tokenizer.Decode(free.TokenIds.ToArray()), free.Text);
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Text_prompts_are_tokenized_with_the_model_tokenizer()
    {
        await using var engine = fx.NewEngine();
        var output = await engine.RunAsync(new GenerationRequest
        {
            RequestId = "text",
            PromptText = "Hello, world",
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 5, IgnoreEos = true },
        });
        var ids = engine.Tokenizer.Encode("Hello, world");
        Assert.Equal(ids.Length, output.PromptTokens);
        var byIds = await engine.RunAsync(Greedy("ids", ids, 5));
        Assert.Equal(byIds.TokenIds, output.TokenIds);
        Assert.Equal(engine.Tokenizer.Decode(output.TokenIds.ToArray()), output.Text);
    }

    [Fact]
    public async Task A_failing_forward_pass_ends_that_steps_requests_with_an_error_and_the_engine_keeps_serving()
    {
        var backend = new FaultInjectingBackend(new OrleansInference.Native.Cpu.CpuBackend(fx.Model, 64, 16, 2));
        await using var engine = new InferenceEngine(fx.Model, backend, new EngineOptions { CpuThreads = 2 });
        var stream = engine.Submit(Greedy("victim", Prompt(16, 20), 500));
        var updates = new List<GenerationUpdate>();
        await foreach (var u in stream.WithCancellation(Ct))
        {
            updates.Add(u);
            if (updates.Count == 2)
            {
                backend.Fail = true;
            }
        }
        Assert.Equal(FinishReason.Error, updates[^1].FinishReason);
        Assert.Contains("injected device fault", updates[^1].Error);
        Assert.True(backend.Failures >= 1);
        backend.Fail = false;
        Assert.Equal(6, (await engine.RunAsync(Greedy("after", Prompt(17, 20), 6))).TokenIds.Count);
        await engine.AssertPoolCleanAsync();
    }

    [Fact]
    public async Task Random_seeds_are_reported_and_reproduce_the_output()
    {
        await using var engine = fx.NewEngine();
        var prompt = Prompt(15, 9);
        var unseeded = await engine.RunAsync(new GenerationRequest { RequestId = "u", PromptTokenIds = prompt, Sampling = new SamplingParams { MaxTokens = 12, IgnoreEos = true } });
        var replay = await engine.RunAsync(new GenerationRequest { RequestId = "r", PromptTokenIds = prompt, Sampling = new SamplingParams { MaxTokens = 12, IgnoreEos = true, Seed = unseeded.Seed } });
        Assert.Equal(unseeded.TokenIds, replay.TokenIds);
    }
}
