using System.Text.Json;
using Microsoft.Extensions.Options;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi;

namespace OrleansInference.Silo.Http.KServe;

/// <summary><c>POST /v2/models/{name}/infer</c>: one prompt in (<c>text_input</c> or <c>input_ids</c>), text and ids out.</summary>
internal sealed class KServeInferEndpoint(InferenceGateway gateway, ModelResolver models, IOptions<HttpApiOptions> options)
{
    private static readonly HashSet<string> OutputNames = [KServeModels.TextOutput, KServeModels.OutputIds];

    public async Task HandleAsync(HttpContext context, string name)
    {
        var limits = options.Value;
        var requestId = RequestIds.Get(context);
        var dto = await RequestBody.ReadAsync(context, KServeJsonContext.Default.InferRequestDto, limits.MaxRequestBodyBytes);
        var model = await KServeModels.ResolveAsync(models, name, context.RequestAborted);
        var (text, ids) = ReadInputs(dto, model, limits);
        var parameters = new KServeParameters("parameters.", dto.Parameters);
        var wanted = WantedOutputs(dto);

        var request = new InferenceRequest
        {
            Model = model.Id,
            Prompt = text,
            PromptTokenIds = ids,
            Sampling = SamplingBuilder.Build(parameters.ToSamplingInput(), limits.DefaultChatMaxTokens, limits, model.MaxModelLength),
            Priority = SamplingBuilder.Priority(parameters.Priority),
            CacheSalt = parameters.CacheSalt,
        };
        await using var running = await gateway.StartAsync(requestId, request, null, context.RequestAborted);
        var (samples, usage) = await SampleOutputs.CollectAsync(running, 1);
        var sample = samples[0];

        var outputs = new List<InferOutputDto>();
        if (wanted.Contains(KServeModels.TextOutput))
        {
            outputs.Add(new InferOutputDto(KServeModels.TextOutput, [1], "BYTES",
                JsonSerializer.SerializeToElement(new List<string> { sample.Text }, KServeJsonContext.Default.ListString)));
        }
        if (wanted.Contains(KServeModels.OutputIds))
        {
            outputs.Add(new InferOutputDto(KServeModels.OutputIds, [sample.TokenIds.Count], "INT64",
                JsonSerializer.SerializeToElement(sample.TokenIds.Select(i => (long)i).ToList(), KServeJsonContext.Default.ListInt64)));
        }
        var responseParameters = new Dictionary<string, JsonElement>
        {
            ["finish_reason"] = JsonSerializer.SerializeToElement(OpenAiFinishReasons.ToOpenAi(sample.FinishReason) ?? "", KServeJsonContext.Default.String),
            ["request_id"] = JsonSerializer.SerializeToElement(requestId, KServeJsonContext.Default.String),
        };
        if (usage is not null)
        {
            responseParameters["prompt_tokens"] = JsonSerializer.SerializeToElement(usage.PromptTokens, KServeJsonContext.Default.Int32);
            responseParameters["completion_tokens"] = JsonSerializer.SerializeToElement(usage.CompletionTokens, KServeJsonContext.Default.Int32);
            responseParameters["cached_tokens"] = JsonSerializer.SerializeToElement(usage.CachedPromptTokens, KServeJsonContext.Default.Int32);
        }
        await Results.Json(new InferResponseDto(model.Id, KServeModels.Version, dto.Id, responseParameters, outputs),
            KServeJsonContext.Default.InferResponseDto).ExecuteAsync(context);
    }

    private static (string? Text, IReadOnlyList<int>? Ids) ReadInputs(InferRequestDto dto, ServedModel model, HttpApiOptions limits)
    {
        if (dto.Inputs is not { Count: > 0 } inputs)
        {
            throw ApiRequestException.BadRequest("inputs must hold a 'text_input' (BYTES) or an 'input_ids' (INT32/INT64) tensor.", "inputs");
        }
        string? text = null;
        IReadOnlyList<int>? ids = null;
        foreach (var input in inputs)
        {
            switch (input.Name)
            {
                case KServeModels.TextInput:
                    RequireType(input, "BYTES");
                    var strings = TensorData.Strings(input);
                    if (strings.Count != 1)
                    {
                        throw ApiRequestException.BadRequest($"Input 'text_input' must hold exactly one string (batch size 1), got {strings.Count}.", "inputs.text_input");
                    }
                    text = strings[0];
                    break;
                case KServeModels.InputIds:
                    RequireType(input, "INT32", "INT64");
                    ids = TensorData.Ints(input);
                    OpenAiRequestMapper.CheckPromptIds(ids, model, limits);
                    break;
                default:
                    throw ApiRequestException.BadRequest($"Unknown input '{input.Name}'; expected 'text_input' or 'input_ids'.", "inputs");
            }
        }
        if ((text is null) == (ids is null))
        {
            throw ApiRequestException.BadRequest("Give exactly one of the inputs 'text_input' and 'input_ids'.", "inputs");
        }
        return (text, ids);
    }

    private static void RequireType(InferInputDto input, params string[] types)
    {
        if (input.Datatype is null || !types.Contains(input.Datatype, StringComparer.OrdinalIgnoreCase))
        {
            throw ApiRequestException.BadRequest(
                $"Input '{input.Name}' must have datatype {string.Join(" or ", types)}, got '{input.Datatype}'.", $"inputs.{input.Name}");
        }
    }

    private static HashSet<string> WantedOutputs(InferRequestDto dto)
    {
        if (dto.Outputs is not { Count: > 0 } requested)
        {
            return OutputNames;
        }
        var wanted = new HashSet<string>();
        foreach (var o in requested)
        {
            if (o.Name is null || !OutputNames.Contains(o.Name))
            {
                throw ApiRequestException.BadRequest($"Unknown output '{o.Name}'; this model has 'text_output' and 'output_ids'.", "outputs");
            }
            wanted.Add(o.Name);
        }
        return wanted;
    }
}
