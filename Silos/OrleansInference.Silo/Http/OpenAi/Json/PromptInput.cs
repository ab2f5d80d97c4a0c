using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.OpenAi.Json;

/// <summary>A completion prompt: text or token ids (OpenAI also allows a one-element array of either).</summary>
[JsonConverter(typeof(PromptInputConverter))]
internal sealed record PromptInput(string? Text, IReadOnlyList<int>? TokenIds);

/// <summary>
/// Reads <c>"text"</c>, <c>[1, 2]</c>, <c>["text"]</c> or <c>[[1, 2]]</c>; refuses batches of several prompts, which
/// would need one request each.
/// </summary>
internal sealed class PromptInputConverter : JsonConverter<PromptInput>
{
    public override PromptInput Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                return new PromptInput(reader.GetString(), null);
            case JsonTokenType.StartArray:
                break;
            default:
                throw Invalid();
        }
        PromptInput? single = null;
        List<int>? ids = null;
        var count = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            count++;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number when single is null:
                    ids ??= [];
                    ids.Add(ReadTokenId(ref reader));
                    break;
                case JsonTokenType.String when ids is null:
                    single = new PromptInput(reader.GetString(), null);
                    break;
                case JsonTokenType.StartArray when ids is null:
                    var nested = new List<int>();
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        if (reader.TokenType != JsonTokenType.Number)
                        {
                            throw Invalid();
                        }
                        nested.Add(ReadTokenId(ref reader));
                    }
                    single = new PromptInput(null, nested);
                    break;
                default:
                    throw Invalid();
            }
            if (single is not null && count > 1)
            {
                throw new JsonFieldException("Batched prompts are not supported: send one prompt per request.");
            }
        }
        return ids is not null ? new PromptInput(null, ids) : single ?? new PromptInput(null, []);
    }

    public override void Write(Utf8JsonWriter writer, PromptInput value, JsonSerializerOptions options)
    {
        if (value.Text is not null)
        {
            writer.WriteStringValue(value.Text);
            return;
        }
        writer.WriteStartArray();
        foreach (var id in value.TokenIds ?? [])
        {
            writer.WriteNumberValue(id);
        }
        writer.WriteEndArray();
    }

    private static int ReadTokenId(ref Utf8JsonReader reader) =>
        reader.TryGetInt32(out var id) && id >= 0 ? id : throw new JsonFieldException("Token ids must be non-negative integers.");

    private static JsonFieldException Invalid() =>
        new("prompt must be a string, an array of token ids, or a one-element array of either.");
}
