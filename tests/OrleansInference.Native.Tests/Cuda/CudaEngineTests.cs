using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Cpu;
using OrleansInference.Native.Tests.Reference;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>The engine choosing the CUDA backend from <c>Device = "cuda"</c> and generating with it.</summary>
[Collection(CudaCollection.Name)]
public sealed class CudaEngineTests(CudaTestDevice device)
{
    [Fact]
    public async Task EngineOnCudaGeneratesTheReferenceGreedyTokens()
    {
        device.Require();
        using var model = BuiltinModel.Create(1234);
        var prompt = CpuModelFixture.MakePrompt(model.Config.VocabSize, 11, seed: 9);
        await using var engine = InferenceEngine.Create(model, new EngineOptions { Device = "cuda", NumBlocks = 64, BlockSize = 16 });
        Assert.StartsWith("cuda", engine.Info.Device);

        // Three identical requests at once: batched decode through the graphs, and all three agree.
        var streams = Enumerable.Range(0, 3).Select(i => engine.Submit(new GenerationRequest
        {
            RequestId = $"r{i}",
            PromptTokenIds = prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = 12, IgnoreEos = true },
        })).ToArray();
        var outputs = new List<IReadOnlyList<int>>();
        foreach (var s in streams)
        {
            var o = await s.CollectAsync(TestContext.Current.CancellationToken);
            Assert.Null(o[0].Error);
            outputs.Add(o[0].TokenIds);
        }

        // The double-precision dense reference, greedy (the built-in model's logits are widened: no near-ties).
        var reference = new DenseReferenceModel(model.Config, model.Tensors);
        var tokens = prompt.ToList();
        var expected = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            var last = reference.Logits(tokens)[^1];
            int best = Array.IndexOf(last, last.Max());
            expected.Add(best);
            tokens.Add(best);
        }

        Assert.All(outputs, o => Assert.Equal(expected, o));
    }
}
