using System.Net;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>What the HTTP APIs return for a greedy request is what the engine produces on its own.</summary>
[Collection(SiloCollection.Name)]
public sealed class EngineEquivalenceTests(SiloFixture silo)
{
    private const string Prompt = "The capital of France is";
    private const int MaxTokens = 8;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<GenerationOutput> DirectGreedyAsync()
    {
        using var model = ModelLoader.Load("builtin");
        await using var engine = InferenceEngine.Create(model, new EngineOptions { Device = "cpu", NumBlocks = 64, CpuThreads = 1 });
        var outputs = await engine.Submit(new GenerationRequest
        {
            RequestId = "direct",
            PromptText = Prompt,
            Sampling = new SamplingParams { Temperature = 0, MaxTokens = MaxTokens, IgnoreEos = true },
        }).CollectAsync(Ct);
        return Assert.Single(outputs);
    }

    [Fact]
    public async Task Greedy_completion_and_infer_equal_the_engine_output()
    {
        var direct = await DirectGreedyAsync();
        Assert.Equal(MaxTokens, direct.TokenIds.Count);

        var completion = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/completions",
            $$"""{"prompt":"{{Prompt}}","max_tokens":{{MaxTokens}},"temperature":0,"ignore_eos":true}""", Ct), Ct);
        Assert.Equal(direct.Text, completion.GetProperty("choices")[0].GetProperty("text").GetString());

        using var infer = await Json.PostAsync(silo.Http, "/v2/models/builtin/infer", $$$"""
            {"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["{{{Prompt}}}"]}],
             "parameters":{"max_tokens":{{{MaxTokens}}},"temperature":0,"ignore_eos":true}}
            """, Ct);
        Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        var ids = (await Json.ReadAsync(infer, Ct)).GetProperty("outputs").EnumerateArray()
            .Single(o => o.GetProperty("name").GetString() == "output_ids").GetProperty("data").EnumerateArray().Select(e => e.GetInt32());
        Assert.Equal(direct.TokenIds, ids);
    }
}
