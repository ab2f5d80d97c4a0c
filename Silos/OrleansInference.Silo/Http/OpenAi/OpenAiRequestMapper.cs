using System.Text.Json;
using OrleansInference.Grains;
using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>An OpenAI request turned into a cluster request, with how to answer it.</summary>
internal sealed record OpenAiCall(InferenceRequest Request, bool Stream, bool IncludeUsage);

/// <summary>Validates OpenAI request bodies (errors name the field) and maps them to <see cref="InferenceRequest"/>.</summary>
internal static class OpenAiRequestMapper
{
    private static readonly HashSet<string> Roles = ["system", "user", "assistant", "tool", "developer"];

    public static OpenAiCall MapCompletion(CompletionRequestDto dto, ServedModel model, HttpApiOptions limits)
    {
        if (dto.Prompt is not { } prompt)
        {
            throw ApiRequestException.BadRequest("prompt is required.", "prompt");
        }
        if (dto.Echo == true)
        {
            throw ApiRequestException.BadRequest("echo is not supported.", "echo");
        }
        if (!string.IsNullOrEmpty(dto.Suffix))
        {
            throw ApiRequestException.BadRequest("suffix is not supported.", "suffix");
        }
        if (prompt.TokenIds is { } ids)
        {
            CheckPromptIds(ids, model, limits);
        }
        var sampling = BuildSampling(dto, dto.MaxTokens, "max_tokens", dto.Logprobs, "logprobs", limits.DefaultCompletionMaxTokens, model, limits);
        return new OpenAiCall(
            new InferenceRequest
            {
                Model = model.Id,
                Prompt = prompt.Text,
                PromptTokenIds = prompt.TokenIds,
                Sampling = sampling,
                Priority = SamplingBuilder.Priority(dto.Priority),
                CacheSalt = dto.CacheSalt,
            },
            dto.Stream ?? false,
            dto.StreamOptions?.IncludeUsage ?? false);
    }

    public static OpenAiCall MapChat(ChatCompletionRequestDto dto, ServedModel model, HttpApiOptions limits)
    {
        if (dto.Messages is not { Count: > 0 } messages)
        {
            throw ApiRequestException.BadRequest("messages is required and must not be empty.", "messages");
        }
        var turns = new List<ChatMessageDto>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            var m = messages[i];
            var role = m.Role?.ToLowerInvariant();
            if (role is null || !Roles.Contains(role))
            {
                throw ApiRequestException.BadRequest(
                    $"messages[{i}].role must be one of system, developer, user, assistant or tool; got \"{m.Role}\".", $"messages[{i}].role");
            }
            if (m.Content is null && role != "assistant")
            {
                throw ApiRequestException.BadRequest($"messages[{i}].content is required.", $"messages[{i}].content");
            }
            turns.Add(new ChatMessageDto(role == "developer" ? "system" : role, m.Content ?? ""));
        }
        if (dto.Tools is { ValueKind: JsonValueKind.Array } tools && tools.GetArrayLength() > 0)
        {
            throw ApiRequestException.BadRequest("tools are not supported by this server.", "tools");
        }
        if (dto.ResponseFormat is { ValueKind: JsonValueKind.Object } format
            && !(format.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "text"))
        {
            throw ApiRequestException.BadRequest("Only response_format {\"type\": \"text\"} is supported.", "response_format");
        }
        int? logprobs = null;
        if (dto.Logprobs == true)
        {
            logprobs = dto.TopLogprobs ?? 0;
        }
        else if (dto.TopLogprobs is not null)
        {
            throw ApiRequestException.BadRequest("top_logprobs requires logprobs to be true.", "top_logprobs");
        }
        var (maxTokens, maxTokensName) = dto.MaxCompletionTokens is { } mct ? (mct, "max_completion_tokens") : (dto.MaxTokens, "max_tokens");
        var sampling = BuildSampling(dto, maxTokens, maxTokensName, logprobs, "top_logprobs", limits.DefaultChatMaxTokens, model, limits);
        return new OpenAiCall(
            new InferenceRequest
            {
                Model = model.Id,
                Messages = turns,
                Sampling = sampling,
                Priority = SamplingBuilder.Priority(dto.Priority),
                CacheSalt = dto.CacheSalt,
            },
            dto.Stream ?? false,
            dto.StreamOptions?.IncludeUsage ?? false);
    }

    private static SamplingOptions BuildSampling(SamplingFieldsDto dto, int? maxTokens, string maxTokensName, int? logprobs, string logprobsName,
        int defaultMaxTokens, ServedModel model, HttpApiOptions limits)
    {
        if (dto.BestOf is { } bestOf && bestOf != (dto.N ?? 1))
        {
            throw ApiRequestException.BadRequest("best_of is not supported (it must equal n when given).", "best_of");
        }
        return SamplingBuilder.Build(new SamplingInput
        {
            Temperature = dto.Temperature,
            TopP = dto.TopP,
            TopK = dto.TopK,
            MinP = dto.MinP,
            PresencePenalty = dto.PresencePenalty,
            FrequencyPenalty = dto.FrequencyPenalty,
            RepetitionPenalty = dto.RepetitionPenalty,
            MaxTokens = maxTokens,
            MaxTokensName = maxTokensName,
            N = dto.N,
            Seed = dto.Seed,
            Stop = dto.Stop,
            StopTokenIds = dto.StopTokenIds,
            IgnoreEos = dto.IgnoreEos,
            Logprobs = logprobs,
            LogprobsName = logprobsName,
        }, defaultMaxTokens, limits, model.MaxModelLength);
    }

    /// <summary>Token-id prompts are checked here; text prompts are measured by the engine after tokenizing.</summary>
    internal static void CheckPromptIds(IReadOnlyList<int> ids, ServedModel model, HttpApiOptions limits)
    {
        if (ids.Count == 0)
        {
            throw ApiRequestException.BadRequest("prompt must not be empty.", "prompt");
        }
        var max = limits.MaxPromptTokens > 0 ? limits.MaxPromptTokens : model.MaxModelLength;
        if (max > 0 && ids.Count > max)
        {
            throw new ApiRequestException(ApiProblem.TooLarge(
                $"The prompt has {ids.Count} tokens; at most {max} are accepted.", "prompt"));
        }
    }
}
