using OrleansInference.Grains;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// Streams a chaos request through the .NET SDK. The SDK re-attaches on its own when its stream stalls or its silo is
/// lost (its idle timer), and drops repeated tokens itself, so the ledger sees what an application sees: a duplicate
/// here would be a bug of the SDK's de-duplication.
/// </summary>
public sealed class SdkCompletionClient(OrleansInferenceClient client)
{
    /// <summary>Runs <paramref name="request"/> to its end, recording into <paramref name="ledger"/>.</summary>
    public async Task RunAsync(ChaosRequest request, TokenLedger ledger, CancellationToken cancellationToken)
    {
        ledger.Start();
        var inference = new InferenceRequest
        {
            Model = "builtin",
            Prompt = request.Prompt,
            Sampling = new SamplingOptions
            {
                Temperature = request.Temperature, TopP = request.TopP, Seed = request.Seed, MaxTokens = request.MaxTokens, IgnoreEos = true,
            },
        };
        await foreach (var chunk in client.StreamAsync(request.Id, inference, cancellationToken))
        {
            ledger.Add(chunk.Offset, chunk.TokenIds);
            if (chunk.FinishReason is { } finish)
            {
                ledger.Finish(finish.ToString());
            }
            if (chunk.Usage is { } usage)
            {
                ledger.Migrations = usage.Migrations;
            }
        }
    }
}
