using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>On a machine without a CUDA driver (CI): the backend declines with the reason and the engine falls back to the CPU.</summary>
[Collection(CudaCollection.Name)]
public sealed class CudaUnavailableTests(CudaTestDevice device)
{
    [Fact]
    public async Task WithoutADriverTheEngineFallsBackToTheCpu()
    {
        Assert.SkipWhen(device.Context is not null, "a CUDA GPU is present");
        using var model = BuiltinModel.Create(1234);
        var backend = CudaBackend.TryCreate(model, 0, numBlocks: 8, blockSize: 16, out var whyNot);
        Assert.Null(backend);
        Assert.Contains("libcuda.so.1", whyNot);

        await using var engine = InferenceEngine.Create(model, new EngineOptions { Device = "cuda", NumBlocks = 16, BlockSize = 16 });
        Assert.Equal("cpu", engine.Info.Device);
        var output = await engine.Submit(new GenerationRequest
        {
            RequestId = "fallback",
            PromptTokenIds = [1, 2, 3],
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 3, IgnoreEos = true },
        }).CollectAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, output[0].TokenIds.Count);
    }
}
