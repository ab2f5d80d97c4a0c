using System.Globalization;
using Microsoft.Extensions.AI;
using OrleansInference.Grains;

namespace OrleansInference.Client.Chat;

/// <summary>Maps Microsoft.Extensions.AI chat messages and options to an <see cref="InferenceRequest"/>.</summary>
internal static class ChatRequestMapper
{
    /// <summary><see cref="ChatOptions.AdditionalProperties"/> keys understood besides the typed options.</summary>
    public const string MinP = "min_p";
    public const string RepetitionPenalty = "repetition_penalty";
    public const string IgnoreEos = "ignore_eos";
    public const string Priority = "priority";

    public static InferenceRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options, string model)
    {
        var turns = new List<ChatMessageDto>();
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            turns.Add(new ChatMessageDto("system", options.Instructions));
        }
        foreach (var message in messages)
        {
            turns.Add(new ChatMessageDto(message.Role.Value, message.Text));
        }
        if (turns.Count == 0)
        {
            throw new InferenceRequestException(InferenceErrorCode.InvalidRequest, "At least one chat message is required.", "messages");
        }
        var sampling = new SamplingOptions();
        if (options is not null)
        {
            var extra = options.AdditionalProperties;
            sampling = sampling with
            {
                Temperature = options.Temperature ?? sampling.Temperature,
                TopP = options.TopP ?? sampling.TopP,
                TopK = options.TopK ?? sampling.TopK,
                MaxTokens = options.MaxOutputTokens ?? sampling.MaxTokens,
                Seed = options.Seed is { } seed ? unchecked((ulong)seed) : null,
                Stop = options.StopSequences?.ToArray() ?? [],
                FrequencyPenalty = options.FrequencyPenalty ?? sampling.FrequencyPenalty,
                PresencePenalty = options.PresencePenalty ?? sampling.PresencePenalty,
                MinP = Number(extra, MinP) ?? sampling.MinP,
                RepetitionPenalty = Number(extra, RepetitionPenalty) ?? sampling.RepetitionPenalty,
                IgnoreEos = extra?.TryGetValue(IgnoreEos, out var ignore) == true && ignore is true,
            };
        }
        var priority = options?.AdditionalProperties?.TryGetValue(Priority, out var p) == true
            && string.Equals(p?.ToString(), "batch", StringComparison.OrdinalIgnoreCase)
                ? InferencePriority.Batch
                : InferencePriority.Interactive;
        return new InferenceRequest { Model = model, Messages = turns, Sampling = sampling, Priority = priority };
    }

    public static ChatFinishReason? ToFinishReason(InferenceFinishReason? reason) => reason switch
    {
        InferenceFinishReason.Stop => ChatFinishReason.Stop,
        InferenceFinishReason.Length => ChatFinishReason.Length,
        InferenceFinishReason.Cancelled => new ChatFinishReason("cancelled"),
        InferenceFinishReason.Error => new ChatFinishReason("error"),
        _ => null,
    };

    public static UsageDetails ToUsage(UsageInfo usage) => new()
    {
        InputTokenCount = usage.PromptTokens,
        OutputTokenCount = usage.CompletionTokens,
        TotalTokenCount = usage.TotalTokens,
        CachedInputTokenCount = usage.CachedPromptTokens,
    };

    private static float? Number(AdditionalPropertiesDictionary? extra, string key) =>
        extra?.TryGetValue(key, out var value) == true && value is IConvertible c
            ? c.ToSingle(CultureInfo.InvariantCulture)
            : null;
}
