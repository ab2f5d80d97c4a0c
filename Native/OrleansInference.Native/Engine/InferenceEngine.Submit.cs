using OrleansInference.Native.Kv;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Engine;

public sealed partial class InferenceEngine
{
    /// <inheritdoc />
    public GenerationStream Submit(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_closed)
        {
            throw new EngineRequestException(EngineErrorKind.Unavailable, "The engine is stopped.");
        }
        var prompt = Validate(request);
        var seed = request.Sampling.Seed ?? NewSeed();
        var state = new RequestState(request, prompt, seed, BlockHasher.Root(Info.ModelId, request.CacheSalt),
            Interlocked.Increment(ref _arrival));

        if (state.Resumed.Length >= request.Sampling.MaxTokens)
        {
            // An earlier attempt already delivered every token: only the final update was lost.
            state.Writer.TryWrite(new GenerationUpdate
            {
                RequestId = state.Id,
                SampleIndex = request.FirstSampleIndex,
                FinishReason = FinishReason.Length,
                PromptTokens = prompt.Length + state.Resumed.Length,
                Seed = seed,
                Timings = new GenerationTimings(TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, 0),
            });
            state.Writer.TryComplete();
            return new GenerationStream(state.Id, state.Reader, static () => { });
        }

        if (!_active.TryAdd(state.Id, 0))
        {
            throw new EngineRequestException(EngineErrorKind.DuplicateRequest, $"A request with id '{state.Id}' is already running.", "request_id");
        }
        if (Interlocked.Increment(ref _queued) > _options.MaxQueuedRequests)
        {
            Interlocked.Decrement(ref _queued);
            _active.TryRemove(state.Id, out _);
            throw new EngineRequestException(EngineErrorKind.Overloaded, $"The engine's queue is full ({_options.MaxQueuedRequests} waiting requests); retry later.");
        }
        if (!Post(new SubmitCommand(state)))
        {
            Interlocked.Decrement(ref _queued);
            _active.TryRemove(state.Id, out _);
            throw new EngineRequestException(EngineErrorKind.Unavailable, "The engine is stopped.");
        }
        EngineLog.Submitted(_logger, state.Id, prompt.Length, state.Resumed.Length, request.Sampling.N, request.Sampling.MaxTokens);
        return new GenerationStream(state.Id, state.Reader, () => Post(new AbortCommand(state.Id, state)));
    }

    /// <summary>Checks everything about a request that can be checked before it is queued; returns its prompt ids.</summary>
    private int[] Validate(GenerationRequest request)
    {
        if (string.IsNullOrEmpty(request.RequestId))
        {
            throw Invalid("The request id must not be empty.", "request_id");
        }
        if ((request.PromptText is null) == (request.PromptTokenIds is null))
        {
            throw Invalid("Give exactly one of the prompt text and the prompt token ids.", "prompt");
        }
        if (request.Sampling is null)
        {
            throw Invalid("Sampling parameters must not be null.", "sampling");
        }
        var prompt = request.PromptTokenIds is { } ids ? [.. ids] : _tokenizer.Encode(request.PromptText!, addSpecialTokens: true);
        if (prompt.Length == 0)
        {
            throw Invalid("The prompt is empty.", "prompt");
        }
        CheckIds(prompt, "prompt");

        var p = request.Sampling;
        SamplingValidator.Validate(p, _vocab);
        if (p.N > _maxRunning)
        {
            throw Invalid($"n = {p.N} exceeds this engine's {_maxRunning} running sequences.", "n");
        }
        if (request.FirstSampleIndex < 0)
        {
            throw Invalid("The first sample index must not be negative.", "first_sample_index");
        }
        var resumed = request.ResumeOutputTokenIds ?? throw Invalid("Resumed output must not be null.", "resume_output_token_ids");
        if (resumed.Count > 0 && p.N != 1)
        {
            throw Invalid("A request can only be resumed with n = 1.", "n");
        }
        CheckIds(resumed, "resume_output_token_ids");

        var total = (long)prompt.Length + p.MaxTokens;
        if (total > Info.MaxModelLength)
        {
            throw new EngineRequestException(EngineErrorKind.PromptTooLong,
                $"This model's maximum context length is {Info.MaxModelLength} tokens; the request needs {total} " +
                $"({prompt.Length} in the prompt, {p.MaxTokens} for the completion).", "max_tokens");
        }
        // The last sampled token is never fed back, so a sequence holds at most total - 1 tokens of K/V.
        var blocks = _kv.BlocksFor((int)total - 1);
        if (blocks > _kv.Pool.Total)
        {
            throw new EngineRequestException(EngineErrorKind.PromptTooLong,
                $"The request needs {blocks} KV blocks for {total} tokens; this engine's pool has {_kv.Pool.Total}.", "max_tokens");
        }
        return prompt;
    }

    private void CheckIds(IReadOnlyList<int> ids, string parameter)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if ((uint)ids[i] >= (uint)_vocab)
            {
                throw Invalid($"Token id {ids[i]} at index {i} is outside the vocabulary [0, {_vocab}).", parameter);
            }
        }
    }

    private static EngineRequestException Invalid(string message, string parameter) =>
        new(EngineErrorKind.InvalidRequest, message, parameter);
}
