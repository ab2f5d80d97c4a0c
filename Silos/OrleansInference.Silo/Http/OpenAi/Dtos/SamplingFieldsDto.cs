using System.Text.Json.Serialization;
using OrleansInference.Silo.Http.OpenAi.Json;

namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary>Fields shared by completion and chat requests (OpenAI's plus vLLM's common extensions).</summary>
internal abstract class SamplingFieldsDto
{
    public string? Model { get; set; }
    public int? MaxTokens { get; set; }
    public float? Temperature { get; set; }
    public float? TopP { get; set; }
    public int? TopK { get; set; }
    public float? MinP { get; set; }
    public float? PresencePenalty { get; set; }
    public float? FrequencyPenalty { get; set; }
    public float? RepetitionPenalty { get; set; }
    public int? N { get; set; }
    public long? Seed { get; set; }

    [JsonConverter(typeof(StopInputConverter))]
    public IReadOnlyList<string>? Stop { get; set; }

    public List<int>? StopTokenIds { get; set; }
    public bool? Stream { get; set; }
    public StreamOptionsDto? StreamOptions { get; set; }
    public bool? IgnoreEos { get; set; }

    /// <summary>Extension: <c>"interactive"</c> (default) or <c>"batch"</c>.</summary>
    public string? Priority { get; set; }

    /// <summary>Extension (as vLLM): requests with different salts never share cached KV blocks.</summary>
    public string? CacheSalt { get; set; }

    public int? BestOf { get; set; }
    public string? User { get; set; }
}

/// <summary><c>stream_options</c>.</summary>
internal sealed class StreamOptionsDto
{
    public bool? IncludeUsage { get; set; }
}
