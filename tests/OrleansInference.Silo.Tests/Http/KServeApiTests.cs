using System.Net;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

[Collection(SiloCollection.Name)]
public sealed class KServeApiTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Health_and_metadata()
    {
        Assert.True((await Json.ReadAsync(await silo.Http.GetAsync("/v2/health/live", Ct), Ct)).GetProperty("live").GetBoolean());
        using var ready = await silo.Http.GetAsync("/v2/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        var meta = await Json.ReadAsync(await silo.Http.GetAsync("/v2/models/builtin", Ct), Ct);
        Assert.Equal("builtin", meta.GetProperty("name").GetString());
        Assert.Equal(["1"], meta.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["text_input", "input_ids"], meta.GetProperty("inputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["text_output", "output_ids"], meta.GetProperty("outputs").EnumerateArray().Select(i => i.GetProperty("name").GetString()));

        Assert.True((await Json.ReadAsync(await silo.Http.GetAsync("/v2/models/builtin/ready", Ct), Ct)).GetProperty("ready").GetBoolean());
    }

    [Fact]
    public async Task Unknown_model_is_404_with_a_kserve_error()
    {
        using var response = await silo.Http.GetAsync("/v2/models/nope", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("nope", (await Json.ReadAsync(response, Ct)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Infer_equals_the_openai_completion()
    {
        var completion = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v1/completions",
            """{"prompt":"Hello world","max_tokens":4,"temperature":0,"ignore_eos":true}""", Ct), Ct);
        var expected = completion.GetProperty("choices")[0].GetProperty("text").GetString();

        using var response = await Json.PostAsync(silo.Http, "/v2/models/builtin/infer", """
            {"id":"a1","inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["Hello world"]}],
             "parameters":{"max_tokens":4,"temperature":0,"ignore_eos":true}}
            """, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await Json.ReadAsync(response, Ct);
        Assert.Equal("builtin", json.GetProperty("model_name").GetString());
        Assert.Equal("a1", json.GetProperty("id").GetString());
        var outputs = json.GetProperty("outputs").EnumerateArray().ToDictionary(o => o.GetProperty("name").GetString()!);
        Assert.Equal(expected, outputs["text_output"].GetProperty("data")[0].GetString());
        Assert.Equal("BYTES", outputs["text_output"].GetProperty("datatype").GetString());
        Assert.Equal(4, outputs["output_ids"].GetProperty("data").GetArrayLength());
        Assert.Equal([4L], outputs["output_ids"].GetProperty("shape").EnumerateArray().Select(s => s.GetInt64()));
        Assert.Equal("length", json.GetProperty("parameters").GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Infer_with_token_ids()
    {
        var json = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v2/models/builtin/infer", """
            {"inputs":[{"name":"input_ids","shape":[1,3],"datatype":"INT64","data":[[15496, 995, 13]]}],
             "outputs":[{"name":"output_ids"}],"parameters":{"max_tokens":2,"temperature":0,"ignore_eos":true}}
            """, Ct), Ct);
        var output = Assert.Single(json.GetProperty("outputs").EnumerateArray());
        Assert.Equal("output_ids", output.GetProperty("name").GetString());
        Assert.Equal(2, output.GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task Infer_without_an_input_is_400()
    {
        using var response = await Json.PostAsync(silo.Http, "/v2/models/builtin/infer",
            """{"inputs":[{"name":"image","shape":[1],"datatype":"BYTES","data":["x"]}]}""", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("image", (await Json.ReadAsync(response, Ct)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task Generate_and_generate_stream_agree()
    {
        const string body = """{"text_input":"The quick brown fox","parameters":{"max_tokens":5,"temperature":0},"ignore_eos":true}""";
        var whole = await Json.ReadAsync(await Json.PostAsync(silo.Http, "/v2/models/builtin/generate", body, Ct), Ct);
        Assert.Equal("builtin", whole.GetProperty("model_name").GetString());
        Assert.Equal(5, whole.GetProperty("output_ids").GetArrayLength());
        var text = whole.GetProperty("text_output").GetString();

        using var response = await Json.PostAsync(silo.Http, "/v2/models/builtin/generate_stream", body, Ct, stream: true);
        var events = await Sse.ReadAllAsync(response, Ct);
        Assert.Equal(text, string.Concat(events.Select(e => e.Json.GetProperty("text_output").GetString())));
        Assert.Equal("length", events[^1].Json.GetProperty("finish_reason").GetString());
    }
}
