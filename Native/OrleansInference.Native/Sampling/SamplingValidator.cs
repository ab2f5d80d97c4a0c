namespace OrleansInference.Native.Sampling;

/// <summary>
/// Checks <see cref="SamplingParams"/> against the ranges OpenAI and vLLM accept; the exception names the offending
/// parameter as the OpenAI API spells it, so hosts can answer 400 with a useful body.
/// </summary>
public static class SamplingValidator
{
    /// <summary>Largest accepted temperature.</summary>
    public const float MaxTemperature = 100f;

    /// <summary>Largest number of samples per request.</summary>
    public const int MaxN = 16;

    /// <summary>Largest number of top logprobs.</summary>
    public const int MaxLogprobs = 20;

    /// <summary>Largest number of stop strings.</summary>
    public const int MaxStopStrings = 16;

    /// <summary>Throws <see cref="EngineRequestException"/> (InvalidRequest) when a value is out of range.</summary>
    /// <param name="p">The parameters.</param>
    /// <param name="vocabSize">The model's vocabulary size (bounds stop token ids).</param>
    public static void Validate(SamplingParams p, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(p);

        if (!(p.Temperature >= 0f && p.Temperature <= MaxTemperature))
        {
            Fail($"temperature must be in [0, {MaxTemperature}], got {p.Temperature}.", "temperature");
        }

        if (!(p.TopP > 0f && p.TopP <= 1f))
        {
            Fail($"top_p must be in (0, 1], got {p.TopP}.", "top_p");
        }

        if (p.TopK < -1)
        {
            Fail($"top_k must be -1 (disabled), 0 (disabled) or positive, got {p.TopK}.", "top_k");
        }

        if (!(p.MinP >= 0f && p.MinP <= 1f))
        {
            Fail($"min_p must be in [0, 1], got {p.MinP}.", "min_p");
        }

        if (!(p.PresencePenalty >= -2f && p.PresencePenalty <= 2f))
        {
            Fail($"presence_penalty must be in [-2, 2], got {p.PresencePenalty}.", "presence_penalty");
        }

        if (!(p.FrequencyPenalty >= -2f && p.FrequencyPenalty <= 2f))
        {
            Fail($"frequency_penalty must be in [-2, 2], got {p.FrequencyPenalty}.", "frequency_penalty");
        }

        if (!(p.RepetitionPenalty > 0f && p.RepetitionPenalty <= 10f))
        {
            Fail($"repetition_penalty must be in (0, 10], got {p.RepetitionPenalty}.", "repetition_penalty");
        }

        if (p.N < 1 || p.N > MaxN)
        {
            Fail($"n must be in [1, {MaxN}], got {p.N}.", "n");
        }

        if (p.Logprobs is { } lp && (lp < 0 || lp > MaxLogprobs))
        {
            Fail($"logprobs must be in [0, {MaxLogprobs}], got {lp}.", "logprobs");
        }

        if (p.MaxTokens < 1)
        {
            Fail($"max_tokens must be at least 1, got {p.MaxTokens}.", "max_tokens");
        }

        if (p.StopStrings is null)
        {
            Fail("stop must not be null.", "stop");
        }
        else
        {
            if (p.StopStrings.Count > MaxStopStrings)
            {
                Fail($"At most {MaxStopStrings} stop strings are allowed, got {p.StopStrings.Count}.", "stop");
            }

            foreach (var s in p.StopStrings)
            {
                if (string.IsNullOrEmpty(s))
                {
                    Fail("Stop strings must be non-empty.", "stop");
                }
            }
        }

        if (p.StopTokenIds is null)
        {
            Fail("stop_token_ids must not be null.", "stop_token_ids");
        }
        else
        {
            foreach (var id in p.StopTokenIds)
            {
                if (id < 0 || id >= vocabSize)
                {
                    Fail($"Stop token id {id} is outside the vocabulary [0, {vocabSize}).", "stop_token_ids");
                }
            }
        }
    }

    private static void Fail(string message, string parameter) =>
        throw new EngineRequestException(EngineErrorKind.InvalidRequest, message, parameter);
}
