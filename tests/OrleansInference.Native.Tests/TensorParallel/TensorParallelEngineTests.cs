using OrleansInference.Native.Engine;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Tests.Engine;
using Xunit;

namespace OrleansInference.Native.Tests.TensorParallel;

/// <summary>Tensor parallelism chosen by <see cref="EngineOptions"/>: the engine's output, and configuration errors.</summary>
public sealed class TensorParallelEngineTests(BuiltinEngineFixture fx) : IClassFixture<BuiltinEngineFixture>
{
    [Fact]
    public async Task CpuRanksGenerateWhatOneCpuBackendGenerates()
    {
        EngineOptions Options(int tp) => new() { NumBlocks = 64, BlockSize = 16, CpuThreads = 2, MaxBatchTokens = 256, TensorParallel = tp };
        var prompts = new[] { BuiltinEngineFixture.Prompt(1, 40), BuiltinEngineFixture.Prompt(2, 9) };
        await using var one = InferenceEngine.Create(fx.Model, Options(1));
        await using var two = InferenceEngine.Create(fx.Model, Options(2));
        for (int i = 0; i < prompts.Length; i++)
        {
            var a = await one.RunAsync(BuiltinEngineFixture.Greedy($"a{i}", prompts[i], 20));
            var b = await two.RunAsync(BuiltinEngineFixture.Greedy($"b{i}", prompts[i], 20));
            Assert.Equal(a.TokenIds, b.TokenIds);
        }

        await two.AssertPoolCleanAsync();
    }

    [Fact]
    public void ConfigurationErrorsAreClear()
    {
        var e1 = Assert.Throws<NotSupportedException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, TensorParallel = 4 }));
        Assert.Contains("2 KV heads", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, Device = "cuda:0,0" }));
        Assert.Contains("twice", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, Device = "cuda:0,1", TensorParallel = 4 }));
        Assert.Contains("TensorParallel is 4", e3.Message);
        Assert.Throws<ArgumentException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, Device = "cuda:0,x" }));
        Assert.Throws<ArgumentException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, TensorParallel = 0 }));
        Assert.Throws<NotSupportedException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, Device = "cuda", TensorParallel = 3 }));
    }

    [Fact]
    public void MissingGpusAreAnErrorNotAFallback()
    {
        // Without a driver, or with fewer than 64 GPUs, a 2-rank group on GPUs 0 and 63 cannot be made.
        var e = Assert.Throws<CudaUnavailableException>(() => InferenceEngine.Create(fx.Model, new EngineOptions { NumBlocks = 8, Device = "cuda:0,63" }));
        Assert.Matches("GPUs|CUDA|driver|not available", e.Message);
    }

    [Fact]
    public void DeviceNamesResolveToGpuLists()
    {
        Assert.Equal([0, 1], EngineBackendFactory.CudaOrdinals("cuda", new EngineOptions { TensorParallel = 2 }));
        Assert.Equal([3], EngineBackendFactory.CudaOrdinals("cuda:3", new EngineOptions()));
        Assert.Equal([2, 3], EngineBackendFactory.CudaOrdinals("cuda:2,3", new EngineOptions()));
        Assert.Equal([2, 3], EngineBackendFactory.CudaOrdinals("cuda:2, 3", new EngineOptions { TensorParallel = 2 }));
    }
}
