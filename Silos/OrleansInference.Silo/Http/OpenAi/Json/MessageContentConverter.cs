using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.OpenAi.Json;

/// <summary>
/// Reads a chat message's <c>content</c>: a string, null, or an array of parts of which only <c>{"type":"text"}</c>
/// parts are supported (their texts are joined).
/// </summary>
internal sealed class MessageContentConverter : JsonConverter<string?>
{
    public override bool HandleNull => true;

    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.Null:
                return null;
            case JsonTokenType.String:
                return reader.GetString();
            case JsonTokenType.StartArray:
                break;
            default:
                throw new JsonFieldException("content must be a string or an array of text parts.");
        }
        var text = new StringBuilder();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonFieldException("content parts must be objects like {\"type\":\"text\",\"text\":\"...\"}.");
            }
            string? type = null, partText = null;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "type" && reader.TokenType == JsonTokenType.String)
                {
                    type = reader.GetString();
                }
                else if (name == "text" && reader.TokenType == JsonTokenType.String)
                {
                    partText = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
            if (type != "text" || partText is null)
            {
                throw new JsonFieldException($"Only text content parts are supported (got type \"{type}\").");
            }
            text.Append(partText);
        }
        return text.ToString();
    }

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteStringValue(value);
        }
    }
}
