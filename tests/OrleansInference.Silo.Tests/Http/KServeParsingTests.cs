using System.Text.Json;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.KServe;

namespace OrleansInference.Silo.Tests.Http;

public sealed class KServeParsingTests
{
    private static InferRequestDto Infer(string json) => JsonSerializer.Deserialize(json, KServeJsonContext.Default.InferRequestDto)!;

    [Fact]
    public void Parameters_become_sampling_input()
    {
        var dto = Infer("""{"inputs":[],"parameters":{"max_tokens":5,"temperature":0,"top_k":3,"stop":"x","ignore_eos":true,"seed":7}}""");
        var input = new KServeParameters("parameters.", dto.Parameters).ToSamplingInput();
        Assert.Equal(5, input.MaxTokens);
        Assert.Equal(0f, input.Temperature);
        Assert.Equal(3, input.TopK);
        Assert.Equal(["x"], input.Stop);
        Assert.True(input.IgnoreEos);
        Assert.Equal(7L, input.Seed);
    }

    [Theory]
    [InlineData("""{"temperature":"hot"}""", "parameters.temperature")]
    [InlineData("""{"max_tokens":1.5}""", "parameters.max_tokens")]
    [InlineData("""{"ignore_eos":1}""", "parameters.ignore_eos")]
    [InlineData("""{"bogus":1}""", "parameters.bogus")]
    public void Bad_parameters_are_named(string parameters, string param)
    {
        var dto = Infer($$"""{"inputs":[],"parameters":{{parameters}}}""");
        var e = Assert.Throws<ApiRequestException>(() => new KServeParameters("parameters.", dto.Parameters).ToSamplingInput());
        Assert.Equal(param, e.Problem.Param);
    }

    [Fact]
    public void Nested_tensor_data_is_flattened_and_checked_against_the_shape()
    {
        var dto = Infer("""{"inputs":[{"name":"input_ids","shape":[2,2],"datatype":"INT64","data":[[1,2],[3,4]]}]}""");
        Assert.Equal([1, 2, 3, 4], TensorData.Ints(dto.Inputs![0]));

        var wrong = Infer("""{"inputs":[{"name":"input_ids","shape":[3],"datatype":"INT64","data":[1,2]}]}""");
        var e = Assert.Throws<ApiRequestException>(() => TensorData.Ints(wrong.Inputs![0]));
        Assert.Contains("holds 3 elements but data has 2", e.Message);
    }

    [Fact]
    public void Bytes_tensors_hold_strings()
    {
        var dto = Infer("""{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":["hi"]}]}""");
        Assert.Equal(["hi"], TensorData.Strings(dto.Inputs![0]));
        var bad = Infer("""{"inputs":[{"name":"text_input","shape":[1],"datatype":"BYTES","data":[5]}]}""");
        Assert.Throws<ApiRequestException>(() => TensorData.Strings(bad.Inputs![0]));
    }
}
