using System.Net;
using System.Text;
using System.Text.Json;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>One completion's outcome over HTTP.</summary>
public sealed record CompletionResult(HttpStatusCode Status, string? Text, int CompletionTokens, string Body);

/// <summary>Sends a short greedy completion of the built-in model to a silo's OpenAI API.</summary>
public static class CompletionProbe
{
    /// <summary>POST /v1/completions with <paramref name="maxTokens"/> tokens, greedy, ignoring EOS.</summary>
    public static async Task<CompletionResult> CompleteAsync(Uri silo, string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = silo, Timeout = TimeSpan.FromSeconds(60) };
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = "builtin",
            ["prompt"] = prompt,
            ["max_tokens"] = maxTokens,
            ["temperature"] = 0,
            ["ignore_eos"] = true,
        });
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v1/completions", content, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new CompletionResult(response.StatusCode, null, 0, text);
        }
        using var json = JsonDocument.Parse(text);
        var choice = json.RootElement.GetProperty("choices")[0];
        var tokens = json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        return new CompletionResult(response.StatusCode, choice.GetProperty("text").GetString(), tokens, text);
    }
}
