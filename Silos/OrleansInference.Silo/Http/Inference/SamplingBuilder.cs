using System.Globalization;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>Validates sampling fields and turns them into the cluster's <see cref="SamplingOptions"/>.</summary>
internal static class SamplingBuilder
{
    /// <summary>Most alternatives per position a client may ask for (as OpenAI).</summary>
    public const int MaxLogprobs = 20;

    public static SamplingOptions Build(SamplingInput input, int defaultMaxTokens, HttpApiOptions limits, int maxModelLength)
    {
        var temperature = input.Temperature ?? 1.0f;
        Check(float.IsFinite(temperature) && temperature is >= 0f and <= 2f, "temperature", $"must be between 0 and 2, got {F(temperature)}");
        var topP = input.TopP ?? 1.0f;
        Check(float.IsFinite(topP) && topP is > 0f and <= 1f, "top_p", $"must be greater than 0 and at most 1, got {F(topP)}");
        var topK = input.TopK ?? 0;
        Check(topK >= -1, "top_k", $"must be -1 or 0 (disabled) or a positive number, got {topK}");
        var minP = input.MinP ?? 0f;
        Check(float.IsFinite(minP) && minP is >= 0f and <= 1f, "min_p", $"must be between 0 and 1, got {F(minP)}");
        var presence = input.PresencePenalty ?? 0f;
        Check(float.IsFinite(presence) && presence is >= -2f and <= 2f, "presence_penalty", $"must be between -2 and 2, got {F(presence)}");
        var frequency = input.FrequencyPenalty ?? 0f;
        Check(float.IsFinite(frequency) && frequency is >= -2f and <= 2f, "frequency_penalty", $"must be between -2 and 2, got {F(frequency)}");
        var repetition = input.RepetitionPenalty ?? 1f;
        Check(float.IsFinite(repetition) && repetition is > 0f and <= 10f, "repetition_penalty", $"must be greater than 0 and at most 10, got {F(repetition)}");

        var maxTokens = input.MaxTokens ?? defaultMaxTokens;
        Check(maxTokens >= 1, input.MaxTokensName, $"must be at least 1, got {maxTokens}");
        if (maxModelLength > 0)
        {
            Check(maxTokens <= maxModelLength, input.MaxTokensName,
                $"must be at most the model's context length ({maxModelLength}), got {maxTokens}");
        }

        var n = input.N ?? 1;
        Check(n >= 1 && n <= limits.MaxSamples, "n", $"must be between 1 and {limits.MaxSamples}, got {n}");

        var stop = input.Stop ?? [];
        Check(stop.Count <= limits.MaxStopStrings, "stop", $"may hold at most {limits.MaxStopStrings} strings, got {stop.Count}");
        Check(stop.All(s => s.Length > 0), "stop", "must not contain empty strings");
        var stopIds = input.StopTokenIds ?? [];
        Check(stopIds.All(id => id >= 0), "stop_token_ids", "must hold non-negative token ids");

        if (input.Logprobs is { } logprobs)
        {
            Check(logprobs is >= 0 and <= MaxLogprobs, input.LogprobsName, $"must be between 0 and {MaxLogprobs}, got {logprobs}");
        }

        return new SamplingOptions
        {
            Temperature = temperature,
            TopP = topP,
            TopK = topK < 0 ? 0 : topK,
            MinP = minP,
            PresencePenalty = presence,
            FrequencyPenalty = frequency,
            RepetitionPenalty = repetition,
            // Any 64-bit pattern is a valid seed; negative JSON seeds keep their bits.
            Seed = input.Seed is { } seed ? unchecked((ulong)seed) : null,
            MaxTokens = maxTokens,
            Stop = stop,
            StopTokenIds = stopIds,
            IgnoreEos = input.IgnoreEos ?? false,
            Logprobs = input.Logprobs,
            N = n,
        };
    }

    public static InferencePriority Priority(string? value) => value?.ToLowerInvariant() switch
    {
        null or "" or "interactive" => InferencePriority.Interactive,
        "batch" => InferencePriority.Batch,
        _ => throw ApiRequestException.BadRequest($"priority must be \"interactive\" or \"batch\", got \"{value}\".", "priority"),
    };

    private static void Check(bool ok, string param, string what)
    {
        if (!ok)
        {
            throw ApiRequestException.BadRequest($"{param} {what}.", param);
        }
    }

    private static string F(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
