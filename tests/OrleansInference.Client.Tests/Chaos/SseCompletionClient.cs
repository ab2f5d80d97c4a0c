using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// Streams a chaos request over HTTP SSE (<c>POST /v1/completions</c>, <c>return_token_ids</c>) the way a careful
/// client would: it names the request (<c>X-Request-Id</c>), and when the connection breaks or goes quiet it sends the
/// same request to the next silo with <c>Last-Event-ID</c> (the event id is the count of tokens received), so the
/// server sends only what is missing. It does not de-duplicate: what the server sends twice, the ledger counts.
/// </summary>
public sealed class SseCompletionClient(IReadOnlyList<Uri> silos, SseResumeOptions options) : IDisposable
{
    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectTimeout = options.ConnectTimeout,
        PooledConnectionLifetime = TimeSpan.FromSeconds(30),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    // A passive health check, as a load balancer keeps one: a silo that just failed a connection is skipped for a while.
    private readonly ConcurrentDictionary<int, long> _downUntil = new();

    /// <summary>Runs <paramref name="request"/> to its end, starting at silo <paramref name="firstSilo"/>, recording into <paramref name="ledger"/>.</summary>
    public async Task RunAsync(ChaosRequest request, TokenLedger ledger, int firstSilo, CancellationToken cancellationToken)
    {
        var silo = Pick(firstSilo);
        string? lastEventId = null;
        var fruitless = 0;
        ledger.Start();
        while (true)
        {
            var before = ledger.Tokens.Count;
            string outcome;
            try
            {
                outcome = await AttemptAsync(silos[silo], request, ledger, lastEventId, id => lastEventId = id, cancellationToken);
                if (outcome == "finished")
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                outcome = "no event within the idle timeout";
            }
            catch (HttpRequestException ex)
            {
                outcome = ex.HttpRequestError + ": " + ex.Message;
            }
            catch (IOException ex)
            {
                outcome = "connection lost: " + ex.Message;
            }
            _downUntil[silo] = Stopwatch.GetTimestamp() + (long)(options.DownFor.TotalSeconds * Stopwatch.Frequency);
            fruitless = ledger.Tokens.Count > before ? 0 : fruitless + 1;
            ledger.Break($"{silos[silo].Authority} after {ledger.Tokens.Count} tokens: {outcome}");
            if (fruitless > options.MaxFruitlessAttempts)
            {
                throw new InvalidOperationException($"{request}: no progress in {options.MaxFruitlessAttempts} attempts; last: {outcome}");
            }
            silo = Pick(silo + 1);
            await Task.Delay(options.RetryDelay, cancellationToken);
        }
    }

    private int Pick(int from)
    {
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < silos.Count; i++)
        {
            var candidate = (from + i) % silos.Count;
            if (!_downUntil.TryGetValue(candidate, out var until) || until <= now)
            {
                return candidate;
            }
        }
        return from % silos.Count;
    }

    // One connection: returns "finished", or why it ended early; throws for transport failures and timeouts.
    private async Task<string> AttemptAsync(Uri silo, ChaosRequest request, TokenLedger ledger, string? lastEventId,
        Action<string> eventId, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(options.FirstEventTimeout);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(silo, "v1/completions"))
        {
            Content = new StringContent(Body(request), Encoding.UTF8, "application/json"),
        };
        message.Headers.Add("X-Request-Id", request.Id);
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is not null)
        {
            message.Headers.Add("Last-Event-ID", lastEventId);
        }
        using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, idle.Token);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync(idle.Token);
            if ((int)response.StatusCode is >= 400 and < 500 and not 429 and not 408)
            {
                throw new InvalidOperationException($"{request}: HTTP {(int)response.StatusCode} from {silo}: {body}");
            }
            return $"HTTP {(int)response.StatusCode}: {body}";
        }
        await using var stream = await response.Content.ReadAsStreamAsync(idle.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? id = null;
        while (true)
        {
            idle.CancelAfter(options.IdleTimeout);
            var line = await reader.ReadLineAsync(idle.Token);
            if (line is null)
            {
                return "the stream ended before [DONE]";
            }
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                id = line[4..];
                continue;
            }
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }
            var data = line[6..];
            if (data == "[DONE]")
            {
                return ledger.Finished ? "finished" : "[DONE] before the finish reason";
            }
            using var json = JsonDocument.Parse(data);
            if (json.RootElement.TryGetProperty("error", out var error))
            {
                return "error event: " + error.GetRawText();
            }
            foreach (var choice in json.RootElement.GetProperty("choices").EnumerateArray())
            {
                var tokens = choice.TryGetProperty("token_ids", out var ids) && ids.ValueKind == JsonValueKind.Array
                    ? ids.EnumerateArray().Select(t => t.GetInt32()).ToList()
                    : [];
                if (id is null)
                {
                    throw new InvalidOperationException($"{request}: a token event without an id: {data}");
                }
                // The event id counts the tokens received including this chunk's.
                var count = int.Parse(id, NumberStyles.None, CultureInfo.InvariantCulture);
                ledger.Add(count - tokens.Count, tokens);
                eventId(id);
                if (choice.TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.String)
                {
                    ledger.Finish(finish.GetString()!);
                }
            }
            id = null;
        }
    }

    private static string Body(ChaosRequest r)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = "builtin",
            ["prompt"] = r.Prompt,
            ["max_tokens"] = r.MaxTokens,
            ["temperature"] = r.Temperature,
            ["top_p"] = r.TopP,
            ["ignore_eos"] = true,
            ["stream"] = true,
            ["return_token_ids"] = true,
        };
        if (r.Seed is { } seed)
        {
            body["seed"] = seed;
        }
        return JsonSerializer.Serialize(body);
    }

    /// <summary>Closes the connections.</summary>
    public void Dispose() => _http.Dispose();
}

/// <summary>When an SSE client gives up on a connection and how often it tries again.</summary>
public sealed record SseResumeOptions
{
    /// <summary>Wait for the response headers and first event (queueing plus prefill; after a fault, also the cluster's detection).</summary>
    public TimeSpan FirstEventTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Wait between events before the connection is taken for dead (a partition breaks nothing, it goes quiet).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TCP connect timeout.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Pause before the next attempt.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a silo that failed a connection is skipped by new attempts.</summary>
    public TimeSpan DownFor { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Attempts in a row without a new token before the request is failed.</summary>
    public int MaxFruitlessAttempts { get; init; } = 8;
}
