using OrleansInference.Native;
using OrleansInference.Native.Kv;
using OrleansInference.Native.Tokenization;

namespace OrleansInference.Grains.Requests;

/// <summary>
/// Checks a request against the model it names and turns it into token ids: text through the tokenizer (with its
/// special-token template), chat through the chat template then the tokenizer without special tokens, ids as given.
/// Every refusal is an <see cref="InferenceException"/> naming the offending parameter.
/// </summary>
internal static class RequestValidator
{
    public const int MaxSamples = 128;
    public const int MaxLogprobs = 20;

    public static PreparedRequest Prepare(string requestId, InferenceRequest request, IInferenceEngine engine, Func<ulong> newSeed)
    {
        var s = request.Sampling ?? throw Invalid("sampling is required.", "sampling");
        ValidateSampling(s);
        var prompt = Tokenize(request, engine.Tokenizer, engine.Info.VocabSize);
        var info = engine.Info;
        if (prompt.Length + (long)s.MaxTokens > info.MaxModelLength)
        {
            var param = prompt.Length >= info.MaxModelLength ? PromptParam(request) : "max_tokens";
            throw new InferenceException(InferenceErrorCode.TooLarge,
                $"This model's maximum context length is {info.MaxModelLength} tokens; the request has {prompt.Length} prompt tokens and asks for {s.MaxTokens} more.", param);
        }
        var sampling = s.Seed is null ? s with { Seed = newSeed() } : s;
        var hashes = BlockHasher.HashBlocks(prompt, info.BlockSize, BlockHasher.Root(info.ModelId, request.CacheSalt));
        return new PreparedRequest(requestId, request.Model, prompt, hashes, sampling, request.Priority, request.CacheSalt);
    }

    private static string PromptParam(InferenceRequest r) => r.Messages is not null ? "messages" : "prompt";

    private static int[] Tokenize(InferenceRequest request, ITextTokenizer tokenizer, int vocab)
    {
        var forms = (request.Prompt is not null ? 1 : 0) + (request.PromptTokenIds is not null ? 1 : 0) + (request.Messages is not null ? 1 : 0);
        if (forms != 1)
        {
            throw Invalid("Exactly one of prompt, prompt token ids or messages must be given.", "prompt");
        }
        int[] ids;
        if (request.Prompt is { } text)
        {
            ids = tokenizer.Encode(text, addSpecialTokens: true);
        }
        else if (request.Messages is { } messages)
        {
            if (messages.Count == 0) throw Invalid("messages must not be empty.", "messages");
            var turns = new List<ChatTurn>(messages.Count);
            foreach (var m in messages)
            {
                if (m is null || string.IsNullOrWhiteSpace(m.Role)) throw Invalid("Every message needs a role.", "messages");
                turns.Add(new ChatTurn(m.Role, m.Content ?? ""));
            }
            ids = tokenizer.Encode(tokenizer.ApplyChatTemplate(turns, addGenerationPrompt: true), addSpecialTokens: false);
        }
        else
        {
            ids = [.. request.PromptTokenIds!];
            foreach (var id in ids)
            {
                if ((uint)id >= (uint)vocab) throw Invalid($"Token id {id} is outside the vocabulary (0..{vocab - 1}).", "prompt");
            }
        }
        if (ids.Length == 0)
        {
            throw Invalid("The prompt is empty.", PromptParam(request));
        }
        return ids;
    }

    private static void ValidateSampling(SamplingOptions s)
    {
        if (!(s.Temperature >= 0) || float.IsInfinity(s.Temperature)) throw Invalid($"temperature must be a finite number >= 0, got {s.Temperature}.", "temperature");
        if (!(s.TopP > 0 && s.TopP <= 1)) throw Invalid($"top_p must be in (0, 1], got {s.TopP}.", "top_p");
        if (s.TopK < 0) throw Invalid($"top_k must be >= 0 (0 disables), got {s.TopK}.", "top_k");
        if (!(s.MinP >= 0 && s.MinP <= 1)) throw Invalid($"min_p must be in [0, 1], got {s.MinP}.", "min_p");
        if (!(s.RepetitionPenalty > 0) || float.IsInfinity(s.RepetitionPenalty)) throw Invalid($"repetition_penalty must be > 0, got {s.RepetitionPenalty}.", "repetition_penalty");
        if (!(s.PresencePenalty >= -2 && s.PresencePenalty <= 2)) throw Invalid($"presence_penalty must be in [-2, 2], got {s.PresencePenalty}.", "presence_penalty");
        if (!(s.FrequencyPenalty >= -2 && s.FrequencyPenalty <= 2)) throw Invalid($"frequency_penalty must be in [-2, 2], got {s.FrequencyPenalty}.", "frequency_penalty");
        if (s.MaxTokens < 1) throw Invalid($"max_tokens must be >= 1, got {s.MaxTokens}.", "max_tokens");
        if (s.N < 1 || s.N > MaxSamples) throw Invalid($"n must be in [1, {MaxSamples}], got {s.N}.", "n");
        if (s.Logprobs is < 0 or > MaxLogprobs) throw Invalid($"logprobs must be in [0, {MaxLogprobs}], got {s.Logprobs}.", "logprobs");
        if (s.Stop is null || s.Stop.Any(string.IsNullOrEmpty)) throw Invalid("Stop strings must be non-empty.", "stop");
        if (s.StopTokenIds is null) throw Invalid("stop_token_ids must not be null.", "stop_token_ids");
    }

    private static InferenceException Invalid(string message, string param) => new(InferenceErrorCode.InvalidRequest, message, param);
}
