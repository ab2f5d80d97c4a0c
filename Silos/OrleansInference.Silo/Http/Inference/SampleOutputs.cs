using System.Text;
using OrleansInference.Grains;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>One sample's output gathered from its chunks.</summary>
internal sealed class SampleOutput(int index)
{
    private readonly StringBuilder _text = new();

    public int Index { get; } = index;
    public List<int> TokenIds { get; } = [];
    public List<PositionLogprobsDto> Logprobs { get; } = [];
    public InferenceFinishReason? FinishReason { get; private set; }
    public string Text => _text.ToString();

    public void Add(TokenChunk chunk)
    {
        TokenIds.AddRange(chunk.TokenIds);
        _text.Append(chunk.Text);
        if (chunk.Logprobs is not null)
        {
            Logprobs.AddRange(chunk.Logprobs);
        }
        if (chunk.FinishReason is { } reason)
        {
            FinishReason = reason;
        }
    }
}

/// <summary>Gathers a whole request for a non-streaming response; a failed sample fails the request.</summary>
internal static class SampleOutputs
{
    public static async Task<(IReadOnlyList<SampleOutput> Samples, UsageInfo? Usage)> CollectAsync(InferenceCall call, int samples)
    {
        var outputs = new SortedDictionary<int, SampleOutput>();
        for (var i = 0; i < samples; i++)
        {
            outputs[i] = new SampleOutput(i);
        }
        UsageInfo? usage = null;
        await foreach (var chunk in call.ReadAllAsync())
        {
            if (chunk.FinishReason == InferenceFinishReason.Error)
            {
                throw new InferenceException(InferenceErrorCode.Internal, chunk.Error ?? "The request failed while generating.");
            }
            if (!outputs.TryGetValue(chunk.Index, out var output))
            {
                outputs[chunk.Index] = output = new SampleOutput(chunk.Index);
            }
            output.Add(chunk);
            usage = chunk.Usage ?? usage;
        }
        return (outputs.Values.ToList(), usage);
    }
}
