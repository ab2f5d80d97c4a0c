using Microsoft.Extensions.Options;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi.Dtos;
using OrleansInference.Silo.Http.Sse;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary><c>POST /v1/chat/completions</c>.</summary>
internal sealed class ChatCompletionsEndpoint(
    InferenceGateway gateway, ModelResolver models, IOptions<HttpApiOptions> options, TimeProvider time, ILogger<ChatCompletionsEndpoint> logger)
{
    private const string ObjectName = "chat.completion";
    private const string ChunkObjectName = "chat.completion.chunk";
    private const string Assistant = "assistant";

    public async Task HandleAsync(HttpContext context)
    {
        var limits = options.Value;
        var requestId = RequestIds.Get(context);
        var dto = await RequestBody.ReadAsync(context, OpenAiJsonContext.Default.ChatCompletionRequestDto, limits.MaxRequestBodyBytes);
        var model = await models.ResolveAsync(dto.Model, context.RequestAborted);
        var call = OpenAiRequestMapper.MapChat(dto, model, limits);
        var resumed = RequestBody.ResumeCounts(context, limits.MaxSamples);
        await using var running = await gateway.StartAsync(requestId, call.Request, resumed, context.RequestAborted,
            resumable: call.Stream && RequestIds.IsClientSupplied(context));

        var id = "chatcmpl-" + requestId;
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        if (!call.Stream)
        {
            var (samples, usage) = await SampleOutputs.CollectAsync(running, call.Request.Sampling.N);
            var choices = samples.Select(s => new ChatChoiceDto(
                s.Index, new ChatMessageOutputDto(Assistant, s.Text), LogprobsMapper.ToChat(s.Logprobs), OpenAiFinishReasons.ToOpenAi(s.FinishReason))).ToList();
            var response = new ChatCompletionResponseDto(id, ObjectName, created, model.Id, choices, OpenAiFinishReasons.ToUsage(usage));
            await Results.Json(response, OpenAiJsonContext.Default.ChatCompletionResponseDto).ExecuteAsync(context);
            return;
        }

        var sse = new SseWriter(context);
        await sse.StartAsync();
        if (resumed is null)
        {
            // The role comes first in its own delta, as OpenAI sends it; a resumed stream already had it.
            var start = new ResumePosition().Format();
            for (var i = 0; i < call.Request.Sampling.N; i++)
            {
                await sse.WriteAsync(Chunk(id, created, model.Id, new ChatChunkChoiceDto(i, new ChatDeltaDto(Assistant, ""), null, null)),
                    OpenAiJsonContext.Default.ChatCompletionChunkDto, start);
            }
        }
        await OpenAiStream.RunAsync(context, running, sse,
            (chunk, eventId) =>
            {
                var delta = new ChatDeltaDto(null, chunk.Text.Length > 0 || chunk.FinishReason is null ? chunk.Text : null);
                var choice = new ChatChunkChoiceDto(chunk.Index, delta, LogprobsMapper.ToChat(chunk.Logprobs), OpenAiFinishReasons.ToOpenAi(chunk.FinishReason));
                return sse.WriteAsync(Chunk(id, created, model.Id, choice), OpenAiJsonContext.Default.ChatCompletionChunkDto, eventId);
            },
            call.IncludeUsage
                ? usage => sse.WriteAsync(new ChatCompletionChunkDto(id, ChunkObjectName, created, model.Id, [], OpenAiFinishReasons.ToUsage(usage)),
                    OpenAiJsonContext.Default.ChatCompletionChunkDto)
                : null,
            new ApiProblemMapper(limits.RetryAfterSeconds), logger);
    }

    private static ChatCompletionChunkDto Chunk(string id, long created, string model, ChatChunkChoiceDto choice) =>
        new(id, ChunkObjectName, created, model, [choice], null);
}
