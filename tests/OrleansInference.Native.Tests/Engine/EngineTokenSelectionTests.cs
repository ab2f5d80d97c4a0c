using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Engine;
using Xunit;
using static OrleansInference.Native.Tests.Engine.BuiltinEngineFixture;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>
/// The engine lets a backend choose tokens next to the logits (<see cref="ITokenSelectingBackend"/>) only for steps
/// that need no logits on the host, and the tokens are the same as when the host samples. CPU backend, built-in model.
/// </summary>
public sealed class EngineTokenSelectionTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    private (InferenceEngine Engine, SelectingBackendSpy Spy) NewEngine(bool selectOnDevice)
    {
        var options = new EngineOptions { NumBlocks = 256, BlockSize = 16, CpuThreads = 2, MaxBatchTokens = 512, SelectTokensOnDevice = selectOnDevice };
        var spy = new SelectingBackendSpy(new CpuBackend(fx.Model, options.NumBlocks, options.BlockSize, options.CpuThreads, options.MaxBatchTokens));
        return (new InferenceEngine(fx.Model, spy, options), spy);
    }

    private static GenerationRequest Request(string id, int seed, SamplingParams p) => new()
    {
        RequestId = id,
        PromptTokenIds = Prompt(seed, 9 + seed),
        Sampling = p,
    };

    private static IEnumerable<GenerationRequest> Mixed()
    {
        yield return Request("greedy", 1, new SamplingParams { Temperature = 0, MaxTokens = 20, IgnoreEos = true });
        yield return Request("topk", 2, new SamplingParams { Temperature = 0.9f, TopK = 40, Seed = 7, MaxTokens = 20, IgnoreEos = true });
        yield return Request("topp", 3, new SamplingParams { Temperature = 1.1f, TopP = 0.8f, Seed = 8, MaxTokens = 20, IgnoreEos = true });
        yield return Request("minp", 4, new SamplingParams { Temperature = 1.0f, MinP = 0.05f, Seed = 9, MaxTokens = 20, IgnoreEos = true });
        yield return Request("all", 5, new SamplingParams { Temperature = 0.7f, TopK = 100, TopP = 0.95f, MinP = 0.01f, Seed = 10, MaxTokens = 20, IgnoreEos = true });
    }

    private static async Task<Dictionary<string, IReadOnlyList<int>>> RunAllAsync(InferenceEngine engine, IEnumerable<GenerationRequest> requests)
    {
        var runs = requests.Select(r => (r.RequestId, Task: engine.Submit(r).CollectAsync(TestContext.Current.CancellationToken))).ToList();
        var result = new Dictionary<string, IReadOnlyList<int>>();
        foreach (var (id, task) in runs)
        {
            var outputs = await task;
            foreach (var o in outputs)
            {
                Assert.Null(o.Error);
                result[$"{id}/{o.SampleIndex}"] = o.TokenIds;
            }
        }
        return result;
    }

    [Fact]
    public async Task Batched_greedy_and_sampled_requests_choose_the_same_tokens_on_either_path()
    {
        var (hostEngine, hostSpy) = NewEngine(selectOnDevice: false);
        var (deviceEngine, deviceSpy) = NewEngine(selectOnDevice: true);
        await using (hostEngine)
        await using (deviceEngine)
        {
            var expected = await RunAllAsync(hostEngine, Mixed());
            var actual = await RunAllAsync(deviceEngine, Mixed());

            Assert.Equal(5, expected.Count);
            Assert.All(expected.Values, t => Assert.Equal(20, t.Count));
            Assert.Equal(expected, actual);
            Assert.Equal(0, hostSpy.SelectSteps);
            Assert.True(deviceSpy.SelectSteps >= 20, $"{deviceSpy.SelectSteps} selecting steps");
            Assert.Equal(0, deviceSpy.LogitsSteps);
            // The rows carry the request's counter: position = tokens before the one chosen, and its seed.
            Assert.Contains(deviceSpy.Rows, r => r.Seed == 7 && r.TopK == 40 && r.Position == 11 && r.SampleIndex == 0);
            Assert.Contains(deviceSpy.Rows, r => r.Seed == 10 && r.Position == 14 + 19);
            await deviceEngine.AssertPoolCleanAsync();
        }
    }

    [Fact]
    public async Task Logprobs_penalties_and_the_first_token_of_n_samples_use_the_logits_path_with_the_same_tokens()
    {
        GenerationRequest[] Requests() =>
        [
            Request("logprobs", 6, new SamplingParams { Temperature = 0.8f, Seed = 3, Logprobs = 2, MaxTokens = 6, IgnoreEos = true }),
            Request("penalty", 7, new SamplingParams { Temperature = 0, RepetitionPenalty = 1.3f, MaxTokens = 6, IgnoreEos = true }),
        ];
        var (hostEngine, _) = NewEngine(selectOnDevice: false);
        var (deviceEngine, spy) = NewEngine(selectOnDevice: true);
        await using (hostEngine)
        await using (deviceEngine)
        {
            Assert.Equal(await RunAllAsync(hostEngine, Requests()), await RunAllAsync(deviceEngine, Requests()));
            Assert.Equal(0, spy.SelectSteps);
            Assert.True(spy.LogitsSteps >= 6);

            var n = Request("n3", 8, new SamplingParams { Temperature = 1f, TopP = 0.9f, Seed = 4, N = 3, MaxTokens = 8, IgnoreEos = true });
            var before = spy.LogitsSteps;
            var expected = await RunAllAsync(hostEngine, [n]);
            var actual = await RunAllAsync(deviceEngine, [n]);
            Assert.Equal(3, actual.Count);
            Assert.Equal(expected, actual);
            // The prompt's row feeds all three first tokens on the host; the 7 later steps are chosen by the backend.
            Assert.Equal(before + 1, spy.LogitsSteps);
            Assert.Equal(7, spy.SelectSteps);
            await deviceEngine.AssertPoolCleanAsync();
        }
    }

    [Fact]
    public void Rows_that_need_the_logits_on_the_host_are_refused()
    {
        Assert.Null(RowSampling.For(new SamplingParams { Logprobs = 0 }, 1, 5, 0));
        Assert.Null(RowSampling.For(new SamplingParams { RepetitionPenalty = 1.1f }, 1, 5, 0));
        Assert.Null(RowSampling.For(new SamplingParams { FrequencyPenalty = 0.5f }, 1, 5, 0));
        Assert.Null(RowSampling.For(new SamplingParams { PresencePenalty = -0.5f }, 1, 5, 0));
        var row = RowSampling.For(new SamplingParams { Temperature = 0.5f, TopK = 3, TopP = 0.7f, MinP = 0.2f, StopStrings = ["x"] }, 99, 1234, 2);
        Assert.Equal(new RowSampling(0.5f, 3, 0.7f, 0.2f, 99, 1234, 2), row);
        Assert.False(row!.Value.IsGreedy);
        Assert.True(new RowSampling(1e-45f, 0, 1f, 0f, 0, 0, 0).IsGreedy); // 1/T overflows: argmax, as the CPU sampler
        Assert.True(RowSampling.Greedy.IsGreedy);
    }
}
