using Microsoft.Extensions.Options;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi;
using OrleansInference.Silo.Http.Sse;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>
/// The generate extension: <c>POST /v2/models/{name}/generate</c> (whole text) and <c>/generate_stream</c> (SSE, one
/// event per chunk with its new text).
/// </summary>
internal sealed partial class KServeGenerateEndpoint(
    InferenceGateway gateway, ModelResolver models, IOptions<HttpApiOptions> options, ILogger<KServeGenerateEndpoint> logger)
{
    public async Task HandleAsync(HttpContext context, string name, bool stream)
    {
        var limits = options.Value;
        var requestId = RequestIds.Get(context);
        var dto = await RequestBody.ReadAsync(context, KServeJsonContext.Default.GenerateRequestDto, limits.MaxRequestBodyBytes);
        var model = await KServeModels.ResolveAsync(models, name, context.RequestAborted);
        if ((dto.TextInput is null) == (dto.InputIds is null))
        {
            throw ApiRequestException.BadRequest("Give exactly one of 'text_input' and 'input_ids'.", "text_input");
        }
        if (dto.InputIds is { } ids)
        {
            OpenAiRequestMapper.CheckPromptIds(ids, model, limits);
        }
        var parameters = new KServeParameters("", dto.Parameters, dto.Extra);
        var request = new InferenceRequest
        {
            Model = model.Id,
            Prompt = dto.TextInput,
            PromptTokenIds = dto.InputIds,
            Sampling = SamplingBuilder.Build(parameters.ToSamplingInput(), limits.DefaultChatMaxTokens, limits, model.MaxModelLength),
            Priority = SamplingBuilder.Priority(parameters.Priority),
            CacheSalt = parameters.CacheSalt,
        };
        await using var running = await gateway.StartAsync(requestId, request, null, context.RequestAborted);
        if (!stream)
        {
            var (samples, usage) = await SampleOutputs.CollectAsync(running, 1);
            var s = samples[0];
            await Results.Json(
                new GenerateResponseDto(model.Id, KServeModels.Version, dto.Id, s.Text, s.TokenIds, OpenAiFinishReasons.ToOpenAi(s.FinishReason),
                    usage?.PromptTokens, usage?.CompletionTokens),
                KServeJsonContext.Default.GenerateResponseDto).ExecuteAsync(context);
            return;
        }

        var sse = new SseWriter(context);
        await sse.StartAsync();
        try
        {
            await foreach (var chunk in running.ReadAllAsync())
            {
                if (chunk.FinishReason == InferenceFinishReason.Error)
                {
                    throw new InferenceException(InferenceErrorCode.Internal, chunk.Error ?? "The request failed while generating.");
                }
                if (chunk.TokenIds.Count == 0 && chunk.Text.Length == 0 && chunk.FinishReason is null && chunk.Usage is null)
                {
                    continue;
                }
                await sse.WriteAsync(
                    new GenerateResponseDto(model.Id, KServeModels.Version, dto.Id, chunk.Text, chunk.TokenIds, OpenAiFinishReasons.ToOpenAi(chunk.FinishReason),
                        chunk.Usage?.PromptTokens, chunk.Usage?.CompletionTokens),
                    KServeJsonContext.Default.GenerateResponseDto);
            }
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
        {
            var problem = new ApiProblemMapper(limits.RetryAfterSeconds).Map(ex, requestId);
            LogStreamFailed(logger, requestId, problem.Status, problem.Message, ex);
            await sse.WriteAsync(new ErrorEvent(problem.Message), KServeJsonContext.Default.ErrorEvent);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Streamed generate {RequestId} failed after it started ({Status}: {Reason})")]
    private static partial void LogStreamFailed(ILogger logger, string requestId, int status, string reason, Exception exception);
}

/// <summary>An error inside a generate stream: <c>{"error": "..."}</c>.</summary>
internal sealed record ErrorEvent(string Error);
