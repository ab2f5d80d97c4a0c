using Xunit;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Engine;

/// <summary>The built-in model, loaded once per test class, and helpers to build engines and requests on it.</summary>
public sealed class BuiltinEngineFixture : IDisposable
{
    public LoadedModel Model { get; } = BuiltinModel.Create(1234);

    public InferenceEngine NewEngine(Action<EngineOptions>? configure = null)
    {
        var options = new EngineOptions { NumBlocks = 256, BlockSize = 16, CpuThreads = 2, MaxBatchTokens = 512 };
        configure?.Invoke(options);
        var backend = new CpuBackend(Model, options.NumBlocks, options.BlockSize, options.CpuThreads, options.MaxBatchTokens);
        return new InferenceEngine(Model, backend, options);
    }

    /// <summary>Deterministic prompt ids (below GPT-2's EOS).</summary>
    public static int[] Prompt(int seed, int length)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => r.Next(50_000)).ToArray();
    }

    public static GenerationRequest Greedy(string id, int[] prompt, int maxTokens) => new()
    {
        RequestId = id,
        PromptTokenIds = prompt,
        Sampling = new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
    };

    public static GenerationRequest Sampled(string id, int[] prompt, int maxTokens, ulong seed) => new()
    {
        RequestId = id,
        PromptTokenIds = prompt,
        Sampling = new SamplingParams { Temperature = 0.8f, TopP = 0.9f, Seed = seed, MaxTokens = maxTokens, IgnoreEos = true },
    };

    public void Dispose() => Model.Dispose();
}

internal static class EngineAssert
{
    /// <summary>Runs a request to the end and returns its only sample.</summary>
    public static async Task<GenerationOutput> RunAsync(this InferenceEngine engine, GenerationRequest request)
    {
        var outputs = await engine.Submit(request).CollectAsync(TestContext.Current.CancellationToken);
        return Xunit.Assert.Single(outputs);
    }

    /// <summary>Waits until the engine has processed everything posted before (commands run in order).</summary>
    public static async Task AssertPoolCleanAsync(this InferenceEngine engine)
    {
        var report = await engine.CheckPoolAccountingAsync();
        Xunit.Assert.True(report.IsClean, report.ToString());
        Xunit.Assert.Equal(0, report.Referenced);
        var load = engine.GetLoad();
        Xunit.Assert.Equal(load.TotalBlocks, load.FreeBlocks + load.CachedBlocks);
        Xunit.Assert.Equal(0, load.Running);
        Xunit.Assert.Equal(0, load.Waiting);
    }
}
