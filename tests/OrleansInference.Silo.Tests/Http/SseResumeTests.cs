using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OrleansInference.Grains;
using OrleansInference.Silo.Tests.Infrastructure;

namespace OrleansInference.Silo.Tests.Http;

/// <summary>
/// An SSE client whose connection drops mid-stream reconnects with <c>Last-Event-ID</c> (and its <c>X-Request-Id</c>)
/// and receives exactly the rest of the output: the request kept running meanwhile.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class SseResumeTests(SiloFixture silo)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/v1/completions", """{"prompt":"Resume after a dropped connection","max_tokens":120,"temperature":0,"ignore_eos":true""")]
    [InlineData("/v1/chat/completions", """{"messages":[{"role":"user","content":"Resume after a dropped connection"}],"max_tokens":120,"temperature":0,"ignore_eos":true""")]
    public async Task A_client_that_disconnects_mid_stream_resumes_with_last_event_id_and_gets_exactly_the_rest(string path, string body)
    {
        var chat = path.Contains("chat", StringComparison.Ordinal);
        var whole = await Json.ReadAsync(await Json.PostAsync(silo.Http, path, body + ""","stream":false}""", Ct), Ct);
        var expected = chat
            ? whole.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()
            : whole.GetProperty("choices")[0].GetProperty("text").GetString();

        var requestId = "sse-drop-" + Guid.NewGuid().ToString("N");
        var seen = new System.Text.StringBuilder();
        string? lastId = null;
        using (var first = await Json.PostAsync(silo.Http, path, body + ""","stream":true}""", Ct, stream: true, headers: [new("X-Request-Id", requestId)]))
        using (var reader = new StreamReader(await first.Content.ReadAsStreamAsync(Ct)))
        {
            // Read a few whole events, then drop the connection.
            string? id = null;
            var events = 0;
            while (events < 6 && await reader.ReadLineAsync(Ct) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    seen.Append(Text(JsonDocument.Parse(line[6..]).RootElement, chat));
                    if (id is not null) lastId = id;
                    id = null;
                    events++;
                }
            }
        }
        Assert.NotNull(lastId);
        var had = int.Parse(lastId, CultureInfo.InvariantCulture);
        Assert.InRange(had, 1, 119);

        using var second = await Json.PostAsync(silo.Http, path, body + ""","stream":true}""", Ct, stream: true,
            headers: [new("X-Request-Id", requestId), new("Last-Event-ID", lastId)]);
        var rest = await Sse.ReadAllAsync(second, Ct);
        var ids = rest.Where(e => e.Id is not null).Select(e => int.Parse(e.Id!, CultureInfo.InvariantCulture)).ToList();
        Assert.True(ids.Count > 0);
        Assert.True(ids[0] > had, $"first resumed event id {ids[0]} after {had}");
        Assert.Equal(ids.OrderBy(i => i), ids);
        Assert.Equal(120, ids[^1]);
        var restText = string.Concat(rest.Where(e => !e.IsDone).Select(e => Text(e.Json, chat)));
        Assert.Equal(expected, seen + restText);

        var status = await silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IRequestGrain>(requestId).GetStatusAsync();
        Assert.Equal(RequestState.Finished, status.State);
        Assert.Equal([120], status.DeliveredTokens);
    }

    private static string Text(JsonElement chunk, bool chat)
    {
        var choices = chunk.GetProperty("choices");
        if (choices.GetArrayLength() == 0)
        {
            return "";
        }
        if (!chat)
        {
            return choices[0].GetProperty("text").GetString() ?? "";
        }
        return choices[0].GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() ?? "" : "";
    }
}
