using Microsoft.Extensions.AI;
using OrleansInference.Client.Chat;
using OrleansInference.Grains;

namespace OrleansInference.Client.Tests.Chat;

public sealed class ChatRequestMapperTests
{
    [Fact]
    public void Chat_options_map_to_sampling()
    {
        var options = new ChatOptions
        {
            Instructions = "be brief",
            Temperature = 0.3f,
            TopP = 0.8f,
            TopK = 20,
            MaxOutputTokens = 12,
            Seed = 42,
            StopSequences = ["\n\n"],
            FrequencyPenalty = 0.1f,
            PresencePenalty = 0.2f,
            AdditionalProperties = new() { ["min_p"] = 0.05, ["repetition_penalty"] = 1.2f, ["ignore_eos"] = true, ["priority"] = "batch" },
        };
        var request = ChatRequestMapper.ToRequest(
            [new ChatMessage(ChatRole.System, "sys"), new ChatMessage(ChatRole.User, "hi")], options, "builtin");

        Assert.Equal("builtin", request.Model);
        Assert.Equal([new ChatMessageDto("system", "be brief"), new ChatMessageDto("system", "sys"), new ChatMessageDto("user", "hi")], request.Messages);
        var s = request.Sampling;
        Assert.Equal(0.3f, s.Temperature);
        Assert.Equal(0.8f, s.TopP);
        Assert.Equal(20, s.TopK);
        Assert.Equal(12, s.MaxTokens);
        Assert.Equal(42UL, s.Seed);
        Assert.Equal(["\n\n"], s.Stop);
        Assert.Equal(0.1f, s.FrequencyPenalty);
        Assert.Equal(0.2f, s.PresencePenalty);
        Assert.Equal(0.05f, s.MinP);
        Assert.Equal(1.2f, s.RepetitionPenalty);
        Assert.True(s.IgnoreEos);
        Assert.Equal(InferencePriority.Batch, request.Priority);
    }

    [Fact]
    public void No_options_keep_the_defaults()
    {
        var request = ChatRequestMapper.ToRequest([new ChatMessage(ChatRole.User, "hi")], null, "m");
        Assert.Equal(new SamplingOptions(), request.Sampling);
        Assert.Equal(InferencePriority.Interactive, request.Priority);
    }

    [Fact]
    public void Usage_and_finish_reasons_map()
    {
        var usage = ChatRequestMapper.ToUsage(new UsageInfo(10, 5, 4, 12.5, 0));
        Assert.Equal(10, usage.InputTokenCount);
        Assert.Equal(5, usage.OutputTokenCount);
        Assert.Equal(15, usage.TotalTokenCount);
        Assert.Equal(4, usage.CachedInputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, ChatRequestMapper.ToFinishReason(InferenceFinishReason.Stop));
        Assert.Equal(ChatFinishReason.Length, ChatRequestMapper.ToFinishReason(InferenceFinishReason.Length));
    }

    [Fact]
    public void The_chat_client_describes_itself()
    {
        var client = new OrleansInferenceClient(_ => throw new InvalidOperationException(), new OrleansInferenceClientOptions { DefaultModel = "builtin" });
        using IChatClient chat = new OrleansInferenceChatClient(client);
        Assert.Equal("builtin", chat.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Same(client, chat.GetService<OrleansInferenceClient>());
    }
}
