using System.Net;
using System.Text;
using System.Text.Json;
using OrleansInference.Silo.Tests.Infrastructure;
using OrleansInference.Tests.Shared;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>
/// HTTP on a silo that has no copy of the requested model: it answers for every model of the cluster, with the same
/// tokens and text as the silo that has the model (tokenization, chat template, detokenization and stop strings all
/// happen on a worker of the model).
/// </summary>
public sealed class RemoteModelTests(ThreeSiloFixture cluster) : IClassFixture<ThreeSiloFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_silo_without_engines_lists_and_describes_the_cluster_models()
    {
        var json = await Json.ReadAsync(await cluster.Router.Http.GetAsync("/v1/models", Ct), Ct);
        var card = Assert.Single(json.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == ThreeSiloFixture.Model);
        Assert.Equal(2048, card.GetProperty("max_model_len").GetInt32());
        Assert.Equal("cpu", card.GetProperty("device").GetString());

        using var one = await cluster.Router.Http.GetAsync("/v1/models/builtin", Ct);
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal("builtin", (await Json.ReadAsync(one, Ct)).GetProperty("id").GetString());

        var meta = await Json.ReadAsync(await cluster.Router.Http.GetAsync("/v2/models/builtin", Ct), Ct);
        Assert.Equal("builtin", meta.GetProperty("name").GetString());
        Assert.True((await Json.ReadAsync(await cluster.Router.Http.GetAsync("/v2/models/builtin/ready", Ct), Ct)).GetProperty("ready").GetBoolean());
        using var ready = await cluster.Router.Http.GetAsync("/v2/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public async Task A_completion_equals_the_one_from_the_silo_with_the_model()
    {
        const string body = """{"model":"builtin","prompt":"The capital of France is","max_tokens":12,"temperature":0,"ignore_eos":true,"return_token_ids":true""";
        var expected = await PostOkAsync(cluster.WithModel, "/v1/completions", body + "}");
        var routed = await PostOkAsync(cluster.Router, "/v1/completions", body + "}");
        Assert.Equal(Choices(expected), Choices(routed));
        Assert.Equal(5, routed.GetProperty("usage").GetProperty("prompt_tokens").GetInt32()); // tokenized by the worker
        Assert.Equal("builtin", routed.GetProperty("model").GetString());

        // A stop string taken from the middle of that text cuts both outputs at the same place.
        var text = Choices(expected)[0].Text;
        var stop = text.Substring(text.Length / 2, 2);
        var withStop = body + $$""","stop":[{{JsonSerializer.Serialize(stop)}}]}""";
        var stoppedHere = await PostOkAsync(cluster.WithModel, "/v1/completions", withStop);
        var stoppedThere = await PostOkAsync(cluster.Router, "/v1/completions", withStop);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], Choices(stoppedThere)[0].Text);
        Assert.Equal("stop", stoppedThere.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(Choices(stoppedHere), Choices(stoppedThere));
    }

    [Fact]
    public async Task Seeded_samples_equal_the_ones_from_the_silo_with_the_model()
    {
        const string body = """{"model":"builtin","prompt":"Once upon a time","max_tokens":8,"temperature":0.9,"seed":77,"n":2,"ignore_eos":true,"return_token_ids":true}""";
        var expected = Choices(await PostOkAsync(cluster.WithModel, "/v1/completions", body));
        Assert.Equal(2, expected.Count);
        Assert.Equal(expected, Choices(await PostOkAsync(cluster.Router, "/v1/completions", body)));
    }

    [Fact]
    public async Task A_streamed_completion_equals_the_non_streamed_one_from_the_silo_with_the_model()
    {
        const string body = """{"model":"builtin","prompt":"Streams cross the cluster","max_tokens":10,"temperature":0,"ignore_eos":true,"return_token_ids":true""";
        var expected = Choices(await PostOkAsync(cluster.WithModel, "/v1/completions", body + "}"))[0];

        using var response = await Json.PostAsync(cluster.Router.Http, "/v1/completions",
            body + ""","stream":true,"stream_options":{"include_usage":true}}""", Ct, stream: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadAllAsync(response, Ct);
        Assert.True(events[^1].IsDone);
        var choices = events[..^1].Select(e => e.Json).Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0]).ToList();
        var text = string.Concat(choices.Select(c => c.GetProperty("text").GetString()));
        var ids = choices.SelectMany(c => c.TryGetProperty("token_ids", out var t) && t.ValueKind == JsonValueKind.Array
            ? t.EnumerateArray().Select(i => i.GetInt32()) : []).ToList();
        Assert.Equal(expected, new Choice(text, ids));
        Assert.Equal("length", choices[^1].GetProperty("finish_reason").GetString());
        Assert.Equal(10, events[^2].Json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task A_chat_is_templated_where_the_model_is_and_equals_the_one_from_the_silo_with_it()
    {
        const string body = """{"model":"builtin","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Where is Paris?"}],"max_tokens":6,"temperature":0,"ignore_eos":true""";
        var expected = await PostOkAsync(cluster.WithModel, "/v1/chat/completions", body + "}");
        var routed = await PostOkAsync(cluster.Router, "/v1/chat/completions", body + "}");
        var content = expected.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.Equal(content, routed.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(expected.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), routed.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        using var response = await Json.PostAsync(cluster.Router.Http, "/v1/chat/completions", body + ""","stream":true}""", Ct, stream: true);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var streamed = new StringBuilder();
        foreach (var e in (await Sse.ReadAllAsync(response, Ct)).Where(e => !e.IsDone))
        {
            if (e.Json.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var piece) && piece.ValueKind == JsonValueKind.String)
            {
                streamed.Append(piece.GetString());
            }
        }
        Assert.Equal(content, streamed.ToString());
    }

    [Fact]
    public async Task KServe_generate_equals_the_one_from_the_silo_with_the_model()
    {
        const string body = """{"text_input":"The quick brown fox","parameters":{"max_tokens":5,"temperature":0},"ignore_eos":true}""";
        var expected = await PostOkAsync(cluster.WithModel, "/v2/models/builtin/generate", body);
        var routed = await PostOkAsync(cluster.Router, "/v2/models/builtin/generate", body);
        Assert.Equal(expected.GetProperty("text_output").GetString(), routed.GetProperty("text_output").GetString());
        Assert.Equal(Ids(expected.GetProperty("output_ids")), Ids(routed.GetProperty("output_ids")));

        using var response = await Json.PostAsync(cluster.Router.Http, "/v2/models/builtin/generate_stream", body, Ct, stream: true);
        var events = await Sse.ReadAllAsync(response, Ct);
        Assert.Equal(expected.GetProperty("text_output").GetString(), string.Concat(events.Select(e => e.Json.GetProperty("text_output").GetString())));
    }

    [Fact]
    public async Task A_model_no_silo_serves_is_404()
    {
        using var response = await Json.PostAsync(cluster.Router.Http, "/v1/completions", """{"model":"no-such-model","prompt":"x","max_tokens":1}""", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = (await Json.ReadAsync(response, Ct)).GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Contains("'no-such-model' is not served by any silo", error.GetProperty("message").GetString());

        using var kserve = await cluster.Router.Http.GetAsync("/v2/models/no-such-model", Ct);
        Assert.Equal(HttpStatusCode.NotFound, kserve.StatusCode);
    }

    [Fact]
    public async Task A_model_whose_workers_are_all_gone_is_503_not_404()
    {
        const string body = """{"model":"builtin-leaving","prompt":"Still there?","max_tokens":3,"temperature":0,"ignore_eos":true,"return_token_ids":true}""";
        var before = await PostOkAsync(cluster.Router, "/v1/completions", body);
        Assert.Equal(3, Choices(before)[0].TokenIds.Count);

        await cluster.Leaving.StopAsync();

        // Right after the stop the request may still be refused for another reason (a worker call into the silo
        // that is leaving); the answer the cluster settles on names the model and why.
        JsonElement error = default;
        var status = HttpStatusCode.OK;
        await Eventually.TrueAsync(async () =>
        {
            using var response = await Json.PostAsync(cluster.Router.Http, "/v1/completions", body, Ct);
            status = response.StatusCode;
            error = (await Json.ReadAsync(response, Ct)).TryGetProperty("error", out var e) ? e : default;
            return status == HttpStatusCode.ServiceUnavailable
                && error.GetProperty("message").GetString()!.Contains("none of its workers is live", StringComparison.Ordinal);
        }, "the model that lost its silo is reported unavailable", Ct, lastSeen: () => $"{(int)status} {error}");
        Assert.Equal("The model 'builtin-leaving' is served by this cluster, but none of its workers is live right now; retry later.",
            error.GetProperty("message").GetString());
        Assert.Equal("unavailable", error.GetProperty("code").GetString());

        var models = await Json.ReadAsync(await cluster.Router.Http.GetAsync("/v1/models", Ct), Ct);
        Assert.DoesNotContain(models.GetProperty("data").EnumerateArray(), m => m.GetProperty("id").GetString() == ThreeSiloFixture.LeavingModel);
        using var ready = await cluster.Router.Http.GetAsync("/v2/models/builtin-leaving/ready", Ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.False((await Json.ReadAsync(ready, Ct)).GetProperty("ready").GetBoolean());
        // The model still served by the cluster is unaffected.
        await PostOkAsync(cluster.Router, "/v1/completions", """{"model":"builtin","prompt":"x","max_tokens":1}""");
    }

    private sealed record Choice(string Text, IReadOnlyList<int> TokenIds)
    {
        public bool Equals(Choice? other) => other is not null && Text == other.Text && TokenIds.SequenceEqual(other.TokenIds);

        public override int GetHashCode() => Text.GetHashCode(StringComparison.Ordinal);

        public override string ToString() => $"\"{Text}\" [{string.Join(",", TokenIds)}]";
    }

    private static List<Choice> Choices(JsonElement completion) => completion.GetProperty("choices").EnumerateArray()
        .OrderBy(c => c.GetProperty("index").GetInt32())
        .Select(c => new Choice(c.GetProperty("text").GetString()!, Ids(c.GetProperty("token_ids"))))
        .ToList();

    private static List<int> Ids(JsonElement array) => array.EnumerateArray().Select(i => i.GetInt32()).ToList();

    private static async Task<JsonElement> PostOkAsync(RunningSilo silo, string path, string body)
    {
        using var response = await Json.PostAsync(silo.Http, path, body, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.IsSuccessStatusCode, $"{path} on {silo.BaseAddress}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
