namespace OrleansInference.Grains.Tests.Cluster;

/// <summary>Refused requests: the right error code and parameter, and nothing left behind.</summary>
public sealed class BadRequestTests(InferenceClusterFixture fixture) : IClassFixture<InferenceClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InferenceRequest Valid(string? model = null) => new()
    {
        Model = model ?? InferenceClusterFixture.Model,
        PromptTokenIds = InferenceClusterFixture.PromptIds(1, 32),
        Sampling = new SamplingOptions { Temperature = 0, MaxTokens = 4 },
    };

    public static TheoryData<string, InferenceErrorCode, string?> Cases => new()
    {
        { "unknown-model", InferenceErrorCode.ModelNotFound, "model" },
        { "too-long-prompt", InferenceErrorCode.TooLarge, "prompt" },
        { "too-many-tokens", InferenceErrorCode.TooLarge, "max_tokens" },
        { "negative-temperature", InferenceErrorCode.InvalidRequest, "temperature" },
        { "zero-top-p", InferenceErrorCode.InvalidRequest, "top_p" },
        { "zero-n", InferenceErrorCode.InvalidRequest, "n" },
        { "zero-max-tokens", InferenceErrorCode.InvalidRequest, "max_tokens" },
        { "two-prompt-forms", InferenceErrorCode.InvalidRequest, "prompt" },
        { "empty-prompt", InferenceErrorCode.InvalidRequest, "prompt" },
        { "token-out-of-vocab", InferenceErrorCode.InvalidRequest, "prompt" },
        { "empty-messages", InferenceErrorCode.InvalidRequest, "messages" },
        { "logprobs-too-many", InferenceErrorCode.InvalidRequest, "logprobs" },
    };

    private static InferenceRequest Make(string name) => name switch
    {
        "unknown-model" => Valid("no-such-model"),
        "too-long-prompt" => Valid() with { PromptTokenIds = InferenceClusterFixture.PromptIds(2, 2100) },
        "too-many-tokens" => Valid() with { Sampling = new SamplingOptions { MaxTokens = 2040 } },
        "negative-temperature" => Valid() with { Sampling = new SamplingOptions { Temperature = -1 } },
        "zero-top-p" => Valid() with { Sampling = new SamplingOptions { TopP = 0 } },
        "zero-n" => Valid() with { Sampling = new SamplingOptions { N = 0 } },
        "zero-max-tokens" => Valid() with { Sampling = new SamplingOptions { MaxTokens = 0 } },
        "two-prompt-forms" => Valid() with { Prompt = "hello" },
        "empty-prompt" => Valid() with { PromptTokenIds = [] },
        "token-out-of-vocab" => Valid() with { PromptTokenIds = [1, 2, 50257] },
        "empty-messages" => Valid() with { PromptTokenIds = null, Messages = [] },
        "logprobs-too-many" => Valid() with { Sampling = new SamplingOptions { Logprobs = 21 } },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task IsRefusedWithTheRightCodeAndLeaksNothing(string name, InferenceErrorCode code, string? param)
    {
        var grain = fixture.Client.GetGrain<IRequestGrain>("bad-" + name);
        var ex = await Assert.ThrowsAsync<InferenceException>(async () =>
        {
            await foreach (var _ in grain.GenerateAsync(Make(name), null, Ct))
            {
            }
        });
        Assert.Equal(code, ex.Code);
        Assert.Equal(param, ex.Param);
        Assert.False(string.IsNullOrWhiteSpace(ex.Message));

        await fixture.WaitForIdleWorkersAsync(InferenceClusterFixture.Settle);
        Assert.All(await fixture.Conductor.GetWorkersAsync(), w => Assert.Equal(0, w.InFlight));
    }

    [Fact]
    public async Task AValidRequestStillWorksAfterTheRefusals()
    {
        var chunks = new List<TokenChunk>();
        await foreach (var c in fixture.Client.GetGrain<IRequestGrain>("good-after-bad").GenerateAsync(Valid(), null, Ct))
        {
            chunks.Add(c);
        }
        Assert.Equal(4, chunks.Sum(c => c.TokenIds.Count));
    }
}
