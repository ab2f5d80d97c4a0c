using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace OrleansInference.Native;

/// <summary>
/// The output of one submitted request. Enumerate it once; stopping early (break, dispose or cancellation) aborts the
/// request so its blocks are freed.
/// </summary>
public sealed class GenerationStream : IAsyncEnumerable<GenerationUpdate>
{
    private readonly ChannelReader<GenerationUpdate> _reader;
    private readonly Action _abort;

    /// <summary>Created by engines; <paramref name="abort"/> is called when the consumer stops early.</summary>
    public GenerationStream(string requestId, ChannelReader<GenerationUpdate> reader, Action abort)
    {
        RequestId = requestId;
        _reader = reader;
        _abort = abort;
    }

    /// <summary>The request id.</summary>
    public string RequestId { get; }

    /// <inheritdoc />
    public async IAsyncEnumerator<GenerationUpdate> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        var completed = false;
        try
        {
            while (await _reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_reader.TryRead(out var update))
                {
                    yield return update;
                }
            }
            completed = true;
        }
        finally
        {
            if (!completed)
            {
                _abort();
            }
        }
    }

    /// <summary>Reads the whole stream and gathers each sample's tokens and text.</summary>
    public async Task<IReadOnlyList<GenerationOutput>> CollectAsync(CancellationToken cancellationToken = default)
    {
        var outputs = new SortedDictionary<int, GenerationOutputBuilder>();
        await foreach (var u in this.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (!outputs.TryGetValue(u.SampleIndex, out var b))
            {
                outputs[u.SampleIndex] = b = new GenerationOutputBuilder(u.SampleIndex);
            }
            b.Add(u);
        }
        return outputs.Values.Select(b => b.Build()).ToList();
    }

    private sealed class GenerationOutputBuilder(int index)
    {
        private readonly List<int> _tokens = [];
        private readonly System.Text.StringBuilder _text = new();
        private readonly List<PositionLogprobs> _logprobs = [];
        private GenerationUpdate? _last;
        private GenerationUpdate? _first;

        public void Add(GenerationUpdate u)
        {
            _first ??= u;
            _tokens.AddRange(u.TokenIds);
            _text.Append(u.Text);
            if (u.Logprobs is not null) _logprobs.AddRange(u.Logprobs);
            _last = u;
        }

        public GenerationOutput Build() => new(
            index, _tokens, _text.ToString(), _last?.FinishReason, _last?.StopReason, _last?.Error,
            _first?.PromptTokens ?? 0, _first?.CachedPromptTokens ?? 0, _first?.Seed ?? 0, _last?.Timings,
            _logprobs.Count > 0 ? _logprobs : null);
    }
}

/// <summary>A finished sample, as gathered by <see cref="GenerationStream.CollectAsync"/>.</summary>
public sealed record GenerationOutput(
    int SampleIndex,
    IReadOnlyList<int> TokenIds,
    string Text,
    FinishReason? FinishReason,
    string? StopReason,
    string? Error,
    int PromptTokens,
    int CachedPromptTokens,
    ulong Seed,
    GenerationTimings? Timings,
    IReadOnlyList<PositionLogprobs>? Logprobs);
