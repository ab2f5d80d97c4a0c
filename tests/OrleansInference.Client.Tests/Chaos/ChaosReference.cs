using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// The expected output of every chaos request, computed by an engine in this process with the model the silos load
/// (the built-in model is deterministic in its seed) and the same sampling: an oracle that owes nothing to the cluster.
/// Greedy outputs and seeded samples (the RNG is keyed by seed and position) do not depend on batching.
/// </summary>
public static class ChaosReference
{
    /// <summary>Token ids per request id.</summary>
    public static async Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> ComputeAsync(
        IReadOnlyList<ChaosRequest> requests, CancellationToken cancellationToken)
    {
        using var model = ModelLoader.Load("builtin");
        await using var engine = InferenceEngine.Create(model, new EngineOptions
        {
            Device = "cpu", CpuThreads = 1, NumBlocks = 1024, MaxRunningSequences = 32, MaxQueuedRequests = requests.Count + 1,
        });
        var runs = requests.Select(async r =>
        {
            var stream = engine.Submit(new GenerationRequest
            {
                RequestId = r.Id,
                PromptText = r.Prompt,
                Sampling = new SamplingParams
                {
                    Temperature = r.Temperature, TopP = r.TopP, Seed = r.Seed, MaxTokens = r.MaxTokens, IgnoreEos = true,
                },
            });
            var outputs = await stream.CollectAsync(cancellationToken);
            var output = outputs.Single();
            if (output.TokenIds.Count != r.MaxTokens)
            {
                throw new InvalidOperationException($"reference for {r} has {output.TokenIds.Count} tokens ({output.FinishReason}: {output.Error})");
            }
            return (r.Id, output.TokenIds);
        });
        return (await Task.WhenAll(runs)).ToDictionary(x => x.Id, x => x.TokenIds, StringComparer.Ordinal);
    }
}
