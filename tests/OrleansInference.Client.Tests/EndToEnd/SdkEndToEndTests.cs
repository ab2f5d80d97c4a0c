using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Client.Tests.Infrastructure;
using OrleansInference.Grains;

namespace OrleansInference.Client.Tests.EndToEnd;

public sealed class SdkEndToEndTests(ClusterFixture cluster) : IClassFixture<ClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private OrleansInferenceClient Sdk => cluster.Client.GetRequiredService<OrleansInferenceClient>();

    private static InferenceRequest Greedy(string prompt, int maxTokens) => new()
    {
        Model = "builtin",
        Prompt = prompt,
        Sampling = new SamplingOptions { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true },
    };

    [Fact]
    public async Task Streaming_equals_the_completed_result()
    {
        var request = Greedy("The meaning of life is", 6);
        var whole = await Sdk.CompleteAsync(request, Ct);

        var chunks = new List<TokenChunk>();
        await foreach (var chunk in Sdk.StreamAsync(request, Ct))
        {
            chunks.Add(chunk);
        }

        Assert.Equal(6, whole.Choices[0].TokenIds.Count);
        Assert.Equal(whole.Choices[0].TokenIds, chunks.SelectMany(c => c.TokenIds));
        Assert.Equal(whole.Text, string.Concat(chunks.Select(c => c.Text)));
        var offset = 0;
        foreach (var c in chunks)
        {
            Assert.Equal(offset, c.Offset);
            offset += c.TokenIds.Count;
        }
        Assert.Equal(InferenceFinishReason.Length, chunks.Last(c => c.FinishReason is not null).FinishReason);
        Assert.Equal(6, whole.Usage!.CompletionTokens);
        Assert.Equal(6, chunks.Single(c => c.Usage is not null).Usage!.CompletionTokens);
    }

    [Fact]
    public async Task Cancelling_the_stream_cancels_the_request()
    {
        var requestId = "sdk-cancel-" + Guid.NewGuid().ToString("N");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var chunk in Sdk.StreamAsync(requestId, Greedy("Count to a thousand:", 1500), cts.Token))
            {
                received += chunk.TokenIds.Count;
                cts.Cancel();
            }
        });
        Assert.True(received > 0);

        var grain = cluster.Silo.GetRequiredService<IGrainFactory>().GetGrain<IRequestGrain>(requestId);
        RequestStatus status;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            await Task.Delay(50, Ct);
            status = await grain.GetStatusAsync();
        }
        while (status.State != RequestState.Cancelled && DateTime.UtcNow < deadline);
        Assert.Equal(RequestState.Cancelled, status.State);
    }

    [Fact]
    public async Task Refusals_are_typed()
    {
        await Assert.ThrowsAsync<ModelNotFoundException>(() => Sdk.CompleteAsync(Greedy("x", 1) with { Model = "no-such-model" }, Ct));

        var tooLong = new InferenceRequest { Model = "builtin", PromptTokenIds = Enumerable.Repeat(198, 2100).ToArray() };
        await Assert.ThrowsAsync<PromptTooLargeException>(() => Sdk.CompleteAsync(tooLong, Ct));

        var bad = Greedy("x", 1) with { Sampling = new SamplingOptions { Temperature = -1 } };
        var e = await Assert.ThrowsAsync<InferenceRequestException>(() => Sdk.CompleteAsync(bad, Ct));
        Assert.Equal(InferenceErrorCode.InvalidRequest, e.Code);
    }

    [Fact]
    public async Task Chat_client_streaming_equals_the_whole_response()
    {
        var chat = cluster.Client.GetRequiredService<IChatClient>();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 5, AdditionalProperties = new() { ["ignore_eos"] = true } };
        List<ChatMessage> messages = [new(ChatRole.User, "Hello there!")];

        var response = await chat.GetResponseAsync(messages, options, Ct);
        Assert.False(string.IsNullOrEmpty(response.Text));
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
        Assert.Equal("builtin", response.ModelId);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(messages, options, Ct))
        {
            updates.Add(update);
        }
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Contains(updates, u => u.FinishReason == ChatFinishReason.Length);
        Assert.Equal(5, updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details.OutputTokenCount);
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
    }
}
