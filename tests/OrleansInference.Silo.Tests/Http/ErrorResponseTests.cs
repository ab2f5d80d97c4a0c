using System.Net;
using System.Text.Json;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

[Collection(SiloCollection.Name)]
public sealed class ErrorResponseTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<JsonElement> ExpectErrorAsync(string path, string body, HttpStatusCode status,
        IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        // Error responses may leave a request body unread, after which Kestrel closes the connection: never reuse it.
        using var response = await Json.PostAsync(silo.Http, path, body, Ct, headers: [.. headers ?? [], new("Connection", "close")]);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await Json.ReadAsync(response, Ct)).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error;
    }

    [Fact]
    public async Task Invalid_json_is_400()
    {
        var error = await ExpectErrorAsync("/v1/completions", """{"prompt": "x", """, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("not valid JSON", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Bad_temperature_is_400_naming_the_field()
    {
        var error = await ExpectErrorAsync("/v1/chat/completions",
            """{"messages":[{"role":"user","content":"x"}],"temperature":7}""", HttpStatusCode.BadRequest);
        Assert.Equal("temperature", error.GetProperty("param").GetString());
        Assert.Contains("temperature", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Wrongly_typed_field_is_400_naming_it()
    {
        var error = await ExpectErrorAsync("/v1/completions", """{"prompt":"x","max_tokens":"ten"}""", HttpStatusCode.BadRequest);
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Unknown_model_is_404()
    {
        var error = await ExpectErrorAsync("/v1/completions", """{"model":"gpt-17","prompt":"x"}""", HttpStatusCode.NotFound);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Body_over_the_limit_is_413()
    {
        var prompt = new string('a', 70_000);
        var error = await ExpectErrorAsync("/v1/completions", $$"""{"prompt":"{{prompt}}"}""", HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Token_prompt_over_the_context_is_413()
    {
        var ids = string.Join(',', Enumerable.Repeat(198, 2100));
        var error = await ExpectErrorAsync("/v1/completions", $$"""{"prompt":[{{ids}}],"max_tokens":1}""", HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("prompt", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Text_prompt_over_the_context_is_413()
    {
        // About 2,500 GPT-2 tokens in ~12 KB: under the body limit, over the built-in model's 2,048-token context.
        var prompt = string.Concat(Enumerable.Repeat(" hello", 2500));
        await ExpectErrorAsync("/v1/completions", $$"""{"prompt":"{{prompt}}","max_tokens":1}""", HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Resuming_without_the_request_id_is_400()
    {
        var error = await ExpectErrorAsync("/v1/completions", """{"prompt":"x","stream":true}""", HttpStatusCode.BadRequest,
            [new("Last-Event-ID", "3")]);
        Assert.Equal("Last-Event-ID", error.GetProperty("param").GetString());
    }
}
