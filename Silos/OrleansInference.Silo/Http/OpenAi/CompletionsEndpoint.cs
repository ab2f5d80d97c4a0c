using Microsoft.Extensions.Options;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi.Dtos;
using OrleansInference.Silo.Http.Sse;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary><c>POST /v1/completions</c>.</summary>
internal sealed class CompletionsEndpoint(
    InferenceGateway gateway, ModelResolver models, IOptions<HttpApiOptions> options, TimeProvider time, ILogger<CompletionsEndpoint> logger)
{
    private const string ObjectName = "text_completion";

    public async Task HandleAsync(HttpContext context)
    {
        var limits = options.Value;
        var requestId = RequestIds.Get(context);
        var dto = await RequestBody.ReadAsync(context, OpenAiJsonContext.Default.CompletionRequestDto, limits.MaxRequestBodyBytes);
        var model = await models.ResolveAsync(dto.Model, context.RequestAborted);
        var call = OpenAiRequestMapper.MapCompletion(dto, model, limits);
        var resumed = RequestBody.ResumeCounts(context, limits.MaxSamples);
        var returnTokenIds = dto.ReturnTokenIds ?? false;
        await using var running = await gateway.StartAsync(requestId, call.Request, resumed, context.RequestAborted,
            resumable: call.Stream && RequestIds.IsClientSupplied(context));

        var id = "cmpl-" + requestId;
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        if (!call.Stream)
        {
            var (samples, usage) = await SampleOutputs.CollectAsync(running, call.Request.Sampling.N);
            var choices = samples.Select(s => new CompletionChoiceDto(
                s.Index, s.Text, LogprobsMapper.ToCompletion(s.Logprobs, 0), OpenAiFinishReasons.ToOpenAi(s.FinishReason),
                returnTokenIds ? s.TokenIds : null)).ToList();
            var response = new CompletionResponseDto(id, ObjectName, created, model.Id, choices, OpenAiFinishReasons.ToUsage(usage));
            await Results.Json(response, OpenAiJsonContext.Default.CompletionResponseDto).ExecuteAsync(context);
            return;
        }

        var sse = new SseWriter(context);
        await sse.StartAsync();
        var textOffsets = new Dictionary<int, int>();
        await OpenAiStream.RunAsync(context, running, sse,
            (chunk, eventId) =>
            {
                var offset = textOffsets.GetValueOrDefault(chunk.Index);
                textOffsets[chunk.Index] = offset + chunk.Text.Length;
                var choice = new CompletionChoiceDto(chunk.Index, chunk.Text, LogprobsMapper.ToCompletion(chunk.Logprobs, offset),
                    OpenAiFinishReasons.ToOpenAi(chunk.FinishReason), returnTokenIds ? chunk.TokenIds : null);
                return sse.WriteAsync(new CompletionResponseDto(id, ObjectName, created, model.Id, [choice], null),
                    OpenAiJsonContext.Default.CompletionResponseDto, eventId);
            },
            call.IncludeUsage
                ? usage => sse.WriteAsync(new CompletionResponseDto(id, ObjectName, created, model.Id, [], OpenAiFinishReasons.ToUsage(usage)),
                    OpenAiJsonContext.Default.CompletionResponseDto)
                : null,
            new ApiProblemMapper(limits.RetryAfterSeconds), logger);
    }
}
