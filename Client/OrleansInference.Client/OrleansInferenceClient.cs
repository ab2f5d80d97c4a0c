using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OrleansInference.Client.Streaming;
using OrleansInference.Grains;

namespace OrleansInference.Client;

/// <summary>
/// Runs inference requests on an OrleansInference cluster through an Orleans client: streams tokens as they are
/// produced, re-attaches to a request whose stream stalls (see <see cref="OrleansInferenceClientOptions.TokenIdleTimeout"/>),
/// and throws typed exceptions (<see cref="InferenceRequestException"/> and subclasses) for refused requests.
/// </summary>
public sealed class OrleansInferenceClient
{
    private readonly OrleansInferenceClientOptions _options;
    private readonly ReattachingTokenStream _stream;

    /// <summary>Creates a client over a connected cluster client (or any grain factory, e.g. inside a silo).</summary>
    public OrleansInferenceClient(IGrainFactory grainFactory, IOptions<OrleansInferenceClientOptions> options,
        ILogger<OrleansInferenceClient>? logger = null, TimeProvider? timeProvider = null)
        : this(id => new RequestGrainChannel(grainFactory.GetGrain<IRequestGrain>(id)), options.Value, logger, timeProvider)
    {
    }

    internal OrleansInferenceClient(Func<string, IRequestChannel> grainFor, OrleansInferenceClientOptions options,
        ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        _options = options;
        _stream = new ReattachingTokenStream(grainFor, options, timeProvider ?? TimeProvider.System, logger ?? NullLogger.Instance);
    }

    /// <summary>The options in use.</summary>
    public OrleansInferenceClientOptions Options => _options;

    /// <summary>Streams a new request's output (a fresh request id).</summary>
    public IAsyncEnumerable<TokenChunk> StreamAsync(InferenceRequest request, CancellationToken cancellationToken = default) =>
        StreamAsync(NewRequestId(), request, cancellationToken);

    /// <summary>
    /// Streams request <paramref name="requestId"/>'s output: every token once, in order, per sample. Calling again
    /// with the same id re-attaches to the request while its grain lives. Stopping the enumeration cancels it.
    /// </summary>
    public IAsyncEnumerable<TokenChunk> StreamAsync(string requestId, InferenceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        return _stream.ReadAsync(requestId, WithModel(request), cancellationToken);
    }

    /// <summary>Runs a new request to the end and returns its samples.</summary>
    public Task<CompletionResult> CompleteAsync(InferenceRequest request, CancellationToken cancellationToken = default) =>
        CompleteAsync(NewRequestId(), request, cancellationToken);

    /// <summary>Runs request <paramref name="requestId"/> to the end and returns its samples.</summary>
    public async Task<CompletionResult> CompleteAsync(string requestId, InferenceRequest request, CancellationToken cancellationToken = default)
    {
        var resolved = WithModel(request);
        var samples = new SortedDictionary<int, (StringBuilder Text, List<int> Ids, List<PositionLogprobsDto> Logprobs, InferenceFinishReason? Finish)>();
        UsageInfo? usage = null;
        await foreach (var chunk in StreamAsync(requestId, resolved, cancellationToken).ConfigureAwait(false))
        {
            if (!samples.TryGetValue(chunk.Index, out var s))
            {
                samples[chunk.Index] = s = (new StringBuilder(), [], [], null);
            }
            s.Text.Append(chunk.Text);
            s.Ids.AddRange(chunk.TokenIds);
            if (chunk.Logprobs is not null)
            {
                s.Logprobs.AddRange(chunk.Logprobs);
            }
            if (chunk.FinishReason is { } finish)
            {
                samples[chunk.Index] = s with { Finish = finish };
            }
            usage = chunk.Usage ?? usage;
        }
        var choices = samples.Select(kv => new CompletionChoice(
            kv.Key, kv.Value.Text.ToString(), kv.Value.Ids, kv.Value.Finish, kv.Value.Logprobs.Count > 0 ? kv.Value.Logprobs : null)).ToList();
        return new CompletionResult(requestId, resolved.Model, choices, usage);
    }

    private InferenceRequest WithModel(InferenceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!string.IsNullOrEmpty(request.Model))
        {
            return request;
        }
        return string.IsNullOrEmpty(_options.DefaultModel)
            ? throw new InferenceRequestException(InferenceErrorCode.InvalidRequest,
                "The request names no model and OrleansInferenceClientOptions.DefaultModel is not set.", "model")
            : request with { Model = _options.DefaultModel };
    }

    private static string NewRequestId() => Guid.NewGuid().ToString("N");
}
