using System.Text.Json;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.OpenAi;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Tests.Http;

public sealed class OpenAiRequestMapperTests
{
    private static readonly ServedModel Model = new("builtin", 2048, "cpu");
    private static readonly HttpApiOptions Limits = new();

    private static CompletionRequestDto Completion(string json) =>
        JsonSerializer.Deserialize(json, OpenAiJsonContext.Default.CompletionRequestDto)!;

    private static ChatCompletionRequestDto Chat(string json) =>
        JsonSerializer.Deserialize(json, OpenAiJsonContext.Default.ChatCompletionRequestDto)!;

    [Fact]
    public void Completion_maps_every_sampling_field()
    {
        var call = OpenAiRequestMapper.MapCompletion(Completion("""
            {"model":"builtin","prompt":"Hello","max_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,
             "presence_penalty":0.25,"frequency_penalty":-0.5,"repetition_penalty":1.1,"n":3,"seed":-1,"stop":["a","b"],
             "stop_token_ids":[5],"logprobs":2,"stream":true,"stream_options":{"include_usage":true},"ignore_eos":true,
             "priority":"batch","cache_salt":"s"}
            """), Model, Limits);

        var r = call.Request;
        Assert.Equal("builtin", r.Model);
        Assert.Equal("Hello", r.Prompt);
        Assert.Null(r.PromptTokenIds);
        Assert.Equal(InferencePriority.Batch, r.Priority);
        Assert.Equal("s", r.CacheSalt);
        var s = r.Sampling;
        Assert.Equal(7, s.MaxTokens);
        Assert.Equal(0.5f, s.Temperature);
        Assert.Equal(0.9f, s.TopP);
        Assert.Equal(40, s.TopK);
        Assert.Equal(0.05f, s.MinP);
        Assert.Equal(0.25f, s.PresencePenalty);
        Assert.Equal(-0.5f, s.FrequencyPenalty);
        Assert.Equal(1.1f, s.RepetitionPenalty);
        Assert.Equal(3, s.N);
        Assert.Equal(ulong.MaxValue, s.Seed);
        Assert.Equal(["a", "b"], s.Stop);
        Assert.Equal([5], s.StopTokenIds);
        Assert.Equal(2, s.Logprobs);
        Assert.True(s.IgnoreEos);
        Assert.True(call.Stream);
        Assert.True(call.IncludeUsage);
    }

    [Fact]
    public void Completion_defaults_follow_openai()
    {
        var call = OpenAiRequestMapper.MapCompletion(Completion("""{"prompt":"x"}"""), Model, Limits);
        Assert.Equal(16, call.Request.Sampling.MaxTokens);
        Assert.Equal(1.0f, call.Request.Sampling.Temperature);
        Assert.Null(call.Request.Sampling.Logprobs);
        Assert.Null(call.Request.Sampling.Seed);
        Assert.False(call.Stream);
        Assert.Equal(InferencePriority.Interactive, call.Request.Priority);
    }

    [Theory]
    [InlineData("""{"prompt":[1,2,3]}""", new[] { 1, 2, 3 })]
    [InlineData("""{"prompt":[[4,5]]}""", new[] { 4, 5 })]
    public void Token_id_prompts_are_read(string json, int[] ids)
    {
        var call = OpenAiRequestMapper.MapCompletion(Completion(json), Model, Limits);
        Assert.Equal(ids, call.Request.PromptTokenIds);
        Assert.Null(call.Request.Prompt);
    }

    [Fact]
    public void A_one_element_text_array_is_a_text_prompt()
    {
        var call = OpenAiRequestMapper.MapCompletion(Completion("""{"prompt":["only"]}"""), Model, Limits);
        Assert.Equal("only", call.Request.Prompt);
    }

    [Theory]
    [InlineData("""{"prompt":["a","b"]}""")]
    [InlineData("""{"prompt":[[1],[2]]}""")]
    public void Batched_prompts_are_refused_naming_prompt(string json)
    {
        var e = Assert.Throws<JsonFieldException>(() => Completion(json));
        Assert.Equal("$.prompt", e.Path);
        Assert.Contains("one prompt per request", e.Message);
    }

    [Theory]
    [InlineData("""{"prompt":"x","temperature":2.5}""", "temperature")]
    [InlineData("""{"prompt":"x","temperature":-0.1}""", "temperature")]
    [InlineData("""{"prompt":"x","top_p":0}""", "top_p")]
    [InlineData("""{"prompt":"x","top_k":-2}""", "top_k")]
    [InlineData("""{"prompt":"x","min_p":1.5}""", "min_p")]
    [InlineData("""{"prompt":"x","presence_penalty":3}""", "presence_penalty")]
    [InlineData("""{"prompt":"x","frequency_penalty":-3}""", "frequency_penalty")]
    [InlineData("""{"prompt":"x","repetition_penalty":0}""", "repetition_penalty")]
    [InlineData("""{"prompt":"x","max_tokens":0}""", "max_tokens")]
    [InlineData("""{"prompt":"x","max_tokens":4096}""", "max_tokens")]
    [InlineData("""{"prompt":"x","n":0}""", "n")]
    [InlineData("""{"prompt":"x","n":17}""", "n")]
    [InlineData("""{"prompt":"x","logprobs":21}""", "logprobs")]
    [InlineData("""{"prompt":"x","stop":[""]}""", "stop")]
    [InlineData("""{"prompt":"x","priority":"urgent"}""", "priority")]
    [InlineData("""{"prompt":"x","echo":true}""", "echo")]
    [InlineData("""{"prompt":"x","best_of":3}""", "best_of")]
    [InlineData("""{"prompt":[]}""", "prompt")]
    [InlineData("""{"max_tokens":3}""", "prompt")]
    public void Invalid_completion_fields_are_named(string json, string param)
    {
        var e = Assert.Throws<ApiRequestException>(() => OpenAiRequestMapper.MapCompletion(Completion(json), Model, Limits));
        Assert.Equal(400, e.Problem.Status);
        Assert.Equal(param, e.Problem.Param);
        Assert.Contains(param, e.Problem.Message);
    }

    [Fact]
    public void Token_prompt_over_the_context_is_413()
    {
        var ids = string.Join(',', Enumerable.Repeat(1, 2049));
        var e = Assert.Throws<ApiRequestException>(() => OpenAiRequestMapper.MapCompletion(Completion($$"""{"prompt":[{{ids}}]}"""), Model, Limits));
        Assert.Equal(413, e.Problem.Status);
        Assert.Equal("prompt", e.Problem.Param);
    }

    [Fact]
    public void Chat_maps_messages_parts_and_logprobs()
    {
        var call = OpenAiRequestMapper.MapChat(Chat("""
            {"messages":[{"role":"developer","content":"be brief"},
                         {"role":"user","content":[{"type":"text","text":"Hi "},{"type":"text","text":"there"}]},
                         {"role":"assistant","content":null}],
             "max_tokens":9,"max_completion_tokens":5,"logprobs":true,"top_logprobs":3}
            """), Model, Limits);

        Assert.Equal(
            [new ChatMessageDto("system", "be brief"), new ChatMessageDto("user", "Hi there"), new ChatMessageDto("assistant", "")],
            call.Request.Messages);
        Assert.Equal(5, call.Request.Sampling.MaxTokens);
        Assert.Equal(3, call.Request.Sampling.Logprobs);
    }

    [Fact]
    public void Chat_defaults_max_tokens_from_configuration()
    {
        var call = OpenAiRequestMapper.MapChat(Chat("""{"messages":[{"role":"user","content":"x"}]}"""), Model,
            new HttpApiOptions { DefaultChatMaxTokens = 33 });
        Assert.Equal(33, call.Request.Sampling.MaxTokens);
        Assert.Null(call.Request.Sampling.Logprobs);
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "messages")]
    [InlineData("""{"messages":[{"role":"robot","content":"x"}]}""", "messages[0].role")]
    [InlineData("""{"messages":[{"role":"user","content":"x"},{"role":"user"}]}""", "messages[1].content")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"top_logprobs":2}""", "top_logprobs")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":30}""", "top_logprobs")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}""", "max_completion_tokens")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}""", "tools")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}}""", "response_format")]
    public void Invalid_chat_fields_are_named(string json, string param)
    {
        var e = Assert.Throws<ApiRequestException>(() => OpenAiRequestMapper.MapChat(Chat(json), Model, Limits));
        Assert.Equal(param, e.Problem.Param);
    }

    [Fact]
    public void Image_content_parts_are_refused()
    {
        var e = Assert.Throws<JsonFieldException>(() =>
            Chat("""{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"""));
        Assert.Equal("$.messages[0].content", e.Path);
    }
}
