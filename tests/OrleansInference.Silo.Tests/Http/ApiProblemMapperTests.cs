using System.Text.Json;
using Orleans.Runtime;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.OpenAi;

namespace OrleansInference.Silo.Tests.Http;

public sealed class ApiProblemMapperTests
{
    private readonly ApiProblemMapper _mapper = new(retryAfterSeconds: 3);

    [Theory]
    [InlineData(InferenceErrorCode.InvalidRequest, 400, null)]
    [InlineData(InferenceErrorCode.ModelNotFound, 404, null)]
    [InlineData(InferenceErrorCode.TooLarge, 413, null)]
    [InlineData(InferenceErrorCode.Overloaded, 429, 3)]
    [InlineData(InferenceErrorCode.Unavailable, 503, 3)]
    [InlineData(InferenceErrorCode.Internal, 500, null)]
    public void Inference_codes_map_to_statuses(InferenceErrorCode code, int status, int? retryAfter)
    {
        var problem = _mapper.Map(new InferenceException(code, "why", "temperature"), "r1");
        Assert.Equal(status, problem.Status);
        Assert.Equal(retryAfter, problem.RetryAfterSeconds);
        Assert.Equal("why", problem.Message);
    }

    [Fact]
    public void Unknown_failures_reveal_nothing()
    {
        var problem = _mapper.Map(new InvalidOperationException("secret path /etc/x at Foo.Bar()"), "r2");
        Assert.Equal(500, problem.Status);
        Assert.DoesNotContain("secret", problem.Message);
        Assert.Contains("r2", problem.Message);
    }

    [Fact]
    public void A_lost_silo_is_503()
    {
        Assert.Equal(503, _mapper.Map(new SiloUnavailableException("gone"), "r").Status);
        // A request grain whose activation went away with its silo: retryable (the request resumes), not a server bug.
        Assert.Equal(503, _mapper.Map(new EnumerationAbortedException("the remote target does not have a record of this enumerator"), "r").Status);
    }

    [Fact]
    public void Wrong_json_type_names_the_field()
    {
        var e = Assert.ThrowsAny<JsonException>(() =>
            JsonSerializer.Deserialize("""{"prompt":"x","temperature":"hot"}""", OpenAiJsonContext.Default.CompletionRequestDto));
        var problem = _mapper.Map(e, "r");
        Assert.Equal(400, problem.Status);
        Assert.Equal("temperature", problem.Param);
        Assert.Contains("'temperature'", problem.Message);
    }

    [Fact]
    public void Malformed_json_is_400_without_a_field()
    {
        var e = Assert.ThrowsAny<JsonException>(() =>
            JsonSerializer.Deserialize("""{"prompt": """, OpenAiJsonContext.Default.CompletionRequestDto));
        var problem = _mapper.Map(e, "r");
        Assert.Equal(400, problem.Status);
        Assert.StartsWith("The request body is not valid JSON", problem.Message);
    }

    [Fact]
    public void Openai_error_body_keeps_null_param_and_code()
    {
        var json = ApiErrorWriter.ToOpenAiJson(new ApiProblem(400, "invalid_request_error", "invalid_request", "m"));
        using var doc = JsonDocument.Parse(json);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("m", error.GetProperty("message").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal("invalid_request", error.GetProperty("code").GetString());
    }
}
