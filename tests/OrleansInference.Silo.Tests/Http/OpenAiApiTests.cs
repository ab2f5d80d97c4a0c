using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

[Collection(SiloCollection.Name)]
public sealed class OpenAiApiTests(SiloFixture silo)
{
    private const string Greedy = """ "temperature":0,"ignore_eos":true """;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Models_lists_the_builtin_model()
    {
        var json = await Json.ReadAsync(await silo.Http.GetAsync("/v1/models", Ct), Ct);
        Assert.Equal("list", json.GetProperty("object").GetString());
        var model = Assert.Single(json.GetProperty("data").EnumerateArray());
        Assert.Equal("builtin", model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(2048, model.GetProperty("max_model_len").GetInt32());
    }

    [Fact]
    public async Task Completion_returns_choices_and_usage()
    {
        using var response = await Json.PostAsync(silo.Http, "/v1/completions",
            $$"""{"model":"builtin","prompt":"The capital of France is","max_tokens":5,{{Greedy}}}""", Ct,
            headers: [new("X-Request-Id", "req-completion-1")]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("req-completion-1", response.Headers.GetValues("X-Request-Id").Single());
        var json = await Json.ReadAsync(response, Ct);

        Assert.Equal("cmpl-req-completion-1", json.GetProperty("id").GetString());
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        Assert.Equal("builtin", json.GetProperty("model").GetString());
        Assert.True(json.GetProperty("created").GetInt64() > 1_600_000_000);
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.False(string.IsNullOrEmpty(choice.GetProperty("text").GetString()));
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = json.GetProperty("usage");
        Assert.Equal(5, usage.GetProperty("prompt_tokens").GetInt32()); // GPT-2: "The| capital| of| France| is"
        Assert.Equal(5, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(10, usage.GetProperty("total_tokens").GetInt32());
        Assert.True(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32() >= 0);
    }

    [Fact]
    public async Task Completion_with_logprobs_and_n_returns_each_sample()
    {
        var json = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/completions",
            """{"prompt":[464, 3139],"max_tokens":3,"n":2,"seed":11,"logprobs":2,"ignore_eos":true}""", Ct), Ct);
        var choices = json.GetProperty("choices").EnumerateArray().ToList();
        Assert.Equal([0, 1], choices.Select(c => c.GetProperty("index").GetInt32()));
        foreach (var c in choices)
        {
            var lp = c.GetProperty("logprobs");
            Assert.Equal(3, lp.GetProperty("tokens").GetArrayLength());
            Assert.Equal(3, lp.GetProperty("token_logprobs").GetArrayLength());
            Assert.All(lp.GetProperty("token_logprobs").EnumerateArray(), v => Assert.True(v.GetSingle() <= 0));
            Assert.All(lp.GetProperty("top_logprobs").EnumerateArray(), t => Assert.InRange(t.EnumerateObject().Count(), 1, 2));
            Assert.Equal(0, lp.GetProperty("text_offset")[0].GetInt32());
            Assert.Equal(string.Concat(lp.GetProperty("tokens").EnumerateArray().Select(t => t.GetString())), c.GetProperty("text").GetString());
        }
        Assert.Equal(6, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Streamed_completion_equals_the_non_streamed_text()
    {
        const string body = """{"prompt":"Once upon a time","max_tokens":6,"temperature":0,"ignore_eos":true""";
        var whole = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/completions", body + "}", Ct), Ct);
        var expected = whole.GetProperty("choices")[0].GetProperty("text").GetString();

        using var response = await Json.PostAsync(silo.Http, "/v1/completions",
            body + ""","stream":true,"stream_options":{"include_usage":true}}""", Ct, stream: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadAllAsync(response, Ct);

        Assert.True(events[^1].IsDone);
        var chunks = events[..^1].Select(e => e.Json).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        var id = chunks[0].GetProperty("id").GetString();
        Assert.All(chunks, c => Assert.Equal(id, c.GetProperty("id").GetString()));
        var withChoices = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).ToList();
        Assert.Equal(expected, string.Concat(withChoices.Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString())));
        Assert.Equal("length", withChoices[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.All(withChoices[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));

        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(6, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        // Event ids count the tokens delivered so far, for Last-Event-ID.
        Assert.Equal("6", events.Last(e => e.Id is not null && e.Json.GetProperty("choices").GetArrayLength() > 0).Id);
    }

    [Fact]
    public async Task Chat_completion_returns_an_assistant_message()
    {
        const string body = """{"model":"builtin","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi!"}],"max_completion_tokens":4,"temperature":0,"ignore_eos":true""";
        var json = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/chat/completions", body + "}", Ct), Ct);
        Assert.StartsWith("chatcmpl-", json.GetProperty("id").GetString());
        Assert.Equal("chat.completion", json.GetProperty("object").GetString());
        var choice = Assert.Single(json.GetProperty("choices").EnumerateArray());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        var content = choice.GetProperty("message").GetProperty("content").GetString();
        Assert.False(string.IsNullOrEmpty(content));
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(4, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        using var response = await Json.PostAsync(silo.Http, "/v1/chat/completions",
            body + ""","stream":true,"stream_options":{"include_usage":true}}""", Ct, stream: true);
        var events = await Sse.ReadAllAsync(response, Ct);
        Assert.True(events[^1].IsDone);
        var chunks = events[..^1].Select(e => e.Json).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0]).ToList();
        var streamed = new StringBuilder();
        foreach (var d in deltas)
        {
            if (d.GetProperty("delta").TryGetProperty("content", out var text))
            {
                streamed.Append(text.GetString());
            }
        }
        Assert.Equal(content, streamed.ToString());
        Assert.Equal("length", deltas[^1].GetProperty("finish_reason").GetString());
        Assert.Equal(4, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Chat_with_logprobs_reports_each_token()
    {
        var json = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/chat/completions",
            """{"messages":[{"role":"user","content":"x"}],"max_tokens":3,"temperature":0,"ignore_eos":true,"logprobs":true,"top_logprobs":2}""", Ct), Ct);
        var content = json.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(3, content.Count);
        foreach (var token in content)
        {
            Assert.True(token.GetProperty("logprob").GetSingle() <= 0);
            var top = token.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(2, top.Count);
            // Greedy: the chosen token is the most likely one.
            Assert.Equal(top[0].GetProperty("token").GetString(), token.GetProperty("token").GetString());
        }
    }

    [Fact]
    public async Task A_client_that_disconnects_cancels_its_request()
    {
        const string requestId = "req-disconnect-1";
        var response = await Json.PostAsync(silo.Http, "/v1/completions",
            """{"prompt":"Tell me a long story","max_tokens":1500,"ignore_eos":true,"stream":true}""", Ct, stream: true,
            headers: [new("X-Request-Id", requestId)]);
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync(Ct)))
        {
            Assert.StartsWith("id: ", await reader.ReadLineAsync(Ct));
        }
        response.Dispose();

        var grain = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IRequestGrain>(requestId);
        RequestStatus status;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            await Task.Delay(50, Ct);
            status = await grain.GetStatusAsync();
        }
        while (status.State is not (RequestState.Cancelled or RequestState.Finished or RequestState.Failed) && DateTime.UtcNow < deadline);
        Assert.Equal(RequestState.Cancelled, status.State);
        Assert.True(status.DeliveredTokens.Count < 1500);
    }

    [Fact]
    public async Task A_stream_resumed_with_last_event_id_continues_where_it_left_off()
    {
        const string body = """{"prompt":"Resume me","max_tokens":12,"temperature":0,"ignore_eos":true,"stream":true}""";
        var requestId = "req-resume-" + Guid.NewGuid().ToString("N");
        var whole = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/completions", body.Replace("\"stream\":true", "\"stream\":false"), Ct), Ct);
        var expected = whole.GetProperty("choices")[0].GetProperty("text").GetString();

        // The first connection stays open (closing it would cancel the request) while a second one resumes.
        using var first = await Json.PostAsync(silo.Http, "/v1/completions", body, Ct, stream: true, headers: [new("X-Request-Id", requestId)]);
        using var reader = new StreamReader(await first.Content.ReadAsStreamAsync(Ct));
        var idLine = await reader.ReadLineAsync(Ct);
        var dataLine = await reader.ReadLineAsync(Ct);
        Assert.StartsWith("id: ", idLine);
        var lastId = idLine![4..];
        var seen = JsonDocument.Parse(dataLine![6..]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString();

        using var second = await Json.PostAsync(silo.Http, "/v1/completions", body, Ct, stream: true,
            headers: [new("X-Request-Id", requestId), new("Last-Event-ID", lastId)]);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var rest = (await Sse.ReadAllAsync(second, Ct)).Where(e => !e.IsDone).Select(e => e.Json)
            .Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(expected, seen + string.Concat(rest));
    }
}
