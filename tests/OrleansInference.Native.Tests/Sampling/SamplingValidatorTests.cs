using Xunit;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Tests.Sampling;

public sealed class SamplingValidatorTests
{
    public static TheoryData<string, SamplingParams> Invalid => new()
    {
        { "temperature", new SamplingParams { Temperature = -0.1f } },
        { "temperature", new SamplingParams { Temperature = 100.5f } },
        { "temperature", new SamplingParams { Temperature = float.NaN } },
        { "top_p", new SamplingParams { TopP = 0f } },
        { "top_p", new SamplingParams { TopP = 1.01f } },
        { "top_k", new SamplingParams { TopK = -2 } },
        { "min_p", new SamplingParams { MinP = -0.01f } },
        { "min_p", new SamplingParams { MinP = 1.5f } },
        { "presence_penalty", new SamplingParams { PresencePenalty = 2.5f } },
        { "frequency_penalty", new SamplingParams { FrequencyPenalty = -2.1f } },
        { "repetition_penalty", new SamplingParams { RepetitionPenalty = 0f } },
        { "repetition_penalty", new SamplingParams { RepetitionPenalty = 10.5f } },
        { "n", new SamplingParams { N = 0 } },
        { "n", new SamplingParams { N = 17 } },
        { "logprobs", new SamplingParams { Logprobs = -1 } },
        { "logprobs", new SamplingParams { Logprobs = 21 } },
        { "max_tokens", new SamplingParams { MaxTokens = 0 } },
        { "stop", new SamplingParams { StopStrings = [""] } },
        { "stop", new SamplingParams { StopStrings = Enumerable.Range(0, 17).Select(i => $"s{i}").ToArray() } },
        { "stop_token_ids", new SamplingParams { StopTokenIds = [100] } },
        { "stop_token_ids", new SamplingParams { StopTokenIds = [-1] } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Out_of_range_values_name_the_parameter(string parameter, SamplingParams p)
    {
        var e = Assert.Throws<EngineRequestException>(() => SamplingValidator.Validate(p, vocabSize: 100));
        Assert.Equal(EngineErrorKind.InvalidRequest, e.Kind);
        Assert.Equal(parameter, e.Parameter);
    }

    [Fact]
    public void Boundary_values_are_accepted()
    {
        SamplingValidator.Validate(new SamplingParams(), 100);
        SamplingValidator.Validate(
            new SamplingParams
            {
                Temperature = 0f, TopP = 1f, TopK = -1, MinP = 1f, PresencePenalty = -2f, FrequencyPenalty = 2f,
                RepetitionPenalty = 10f, N = 16, Logprobs = 20, MaxTokens = 1, StopStrings = ["a"], StopTokenIds = [0, 99],
            },
            100);
        SamplingValidator.Validate(new SamplingParams { Temperature = 100f, TopP = 0.001f, TopK = 0, Logprobs = 0 }, 100);
    }
}
