using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansInference.Silo.Http.Sse;

/// <summary>
/// Writes Server-Sent Events (<c>id: …</c>, <c>data: {json}</c>) straight into the response pipe, flushing each event so
/// tokens reach the client as they are produced.
/// </summary>
internal sealed class SseWriter
{
    private static readonly byte[] IdPrefix = "id: "u8.ToArray();
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] LineEnd = "\n"u8.ToArray();

    private readonly HttpResponse _response;
    private readonly CancellationToken _cancellationToken;
    private Utf8JsonWriter? _json;

    public SseWriter(HttpContext context)
    {
        _response = context.Response;
        _cancellationToken = context.RequestAborted;
    }

    /// <summary>Sends the status and headers of an event stream.</summary>
    public async Task StartAsync()
    {
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        // Proxies such as nginx otherwise buffer the stream.
        _response.Headers["X-Accel-Buffering"] = "no";
        await _response.StartAsync(_cancellationToken);
    }

    /// <summary>Writes one event whose data is <paramref name="value"/> as JSON.</summary>
    public async ValueTask WriteAsync<T>(T value, JsonTypeInfo<T> typeInfo, string? id = null)
    {
        var pipe = _response.BodyWriter;
        WriteId(pipe, id);
        pipe.Write(DataPrefix);
        if (_json is null)
        {
            _json = new Utf8JsonWriter(pipe);
        }
        else
        {
            _json.Reset(pipe);
        }
        JsonSerializer.Serialize(_json, value, typeInfo);
        _json.Flush();
        pipe.Write(EventEnd);
        await pipe.FlushAsync(_cancellationToken);
    }

    /// <summary>Writes one event whose data is raw text (e.g. <c>[DONE]</c> or pre-serialized JSON without newlines).</summary>
    public async ValueTask WriteRawAsync(string data, string? id = null)
    {
        var pipe = _response.BodyWriter;
        WriteId(pipe, id);
        pipe.Write(DataPrefix);
        Encoding.UTF8.GetBytes(data, pipe);
        pipe.Write(EventEnd);
        await pipe.FlushAsync(_cancellationToken);
    }

    private static void WriteId(IBufferWriter<byte> pipe, string? id)
    {
        if (id is null)
        {
            return;
        }
        pipe.Write(IdPrefix);
        Encoding.UTF8.GetBytes(id, pipe);
        pipe.Write(LineEnd);
    }
}
