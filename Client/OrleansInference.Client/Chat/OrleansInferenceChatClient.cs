using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OrleansInference.Grains;

namespace OrleansInference.Client;

/// <summary>
/// <see cref="IChatClient"/> over an OrleansInference cluster. Maps <see cref="ChatOptions"/> (temperature, top-p,
/// top-k, max output tokens, seed, stop sequences, frequency and presence penalties, model id, instructions; and in
/// <see cref="ChatOptions.AdditionalProperties"/>: <c>min_p</c>, <c>repetition_penalty</c>, <c>ignore_eos</c>,
/// <c>priority</c>) and reports usage and finish reasons.
/// </summary>
public sealed class OrleansInferenceChatClient : IChatClient
{
    private readonly OrleansInferenceClient _client;
    private readonly string? _modelId;
    private readonly ChatClientMetadata _metadata;

    /// <summary>Creates a chat client; <paramref name="modelId"/> overrides the client's default model.</summary>
    public OrleansInferenceChatClient(OrleansInferenceClient client, string? modelId = null)
    {
        _client = client;
        _modelId = modelId;
        _metadata = new ChatClientMetadata("orleans-inference", null, modelId ?? client.Options.DefaultModel);
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Chat.ChatRequestMapper.ToRequest(messages, options, Model(options));
        var result = await _client.CompleteAsync(request, cancellationToken).ConfigureAwait(false);
        var choice = result.Choices.Count > 0 ? result.Choices[0] : null;
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, choice?.Text ?? "") { MessageId = result.RequestId })
        {
            ResponseId = result.RequestId,
            ModelId = result.Model,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = Chat.ChatRequestMapper.ToFinishReason(choice?.FinishReason),
            Usage = result.Usage is { } usage ? Chat.ChatRequestMapper.ToUsage(usage) : null,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Chat.ChatRequestMapper.ToRequest(messages, options, Model(options));
        var requestId = Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        await foreach (var chunk in _client.StreamAsync(requestId, request, cancellationToken).ConfigureAwait(false))
        {
            if (chunk.Index != 0)
            {
                continue;
            }
            if (chunk.Text.Length > 0 || chunk.FinishReason is not null)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, chunk.Text)
                {
                    ResponseId = requestId,
                    MessageId = requestId,
                    ModelId = request.Model,
                    CreatedAt = created,
                    FinishReason = Chat.ChatRequestMapper.ToFinishReason(chunk.FinishReason),
                };
            }
            if (chunk.Usage is { } usage)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(Chat.ChatRequestMapper.ToUsage(usage))])
                {
                    ResponseId = requestId,
                    MessageId = requestId,
                    ModelId = request.Model,
                    CreatedAt = created,
                };
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }
        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }
        if (serviceType == typeof(OrleansInferenceClient))
        {
            return _client;
        }
        return serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <summary>Nothing to release: the underlying client belongs to its host.</summary>
    public void Dispose()
    {
    }

    private string Model(ChatOptions? options) => options?.ModelId ?? _modelId ?? _client.Options.DefaultModel
        ?? throw new InferenceRequestException(InferenceErrorCode.InvalidRequest,
            "No model given: set ChatOptions.ModelId, the chat client's model or OrleansInferenceClientOptions.DefaultModel.", "model");
}
