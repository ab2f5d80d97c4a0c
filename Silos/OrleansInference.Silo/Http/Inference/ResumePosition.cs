using System.Globalization;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// How many tokens of each sample a client has received, written as an SSE event id (<c>12</c>, or <c>12,9</c> for
/// n = 2) so that a client reconnecting with <c>Last-Event-ID</c> tells the request grain what to skip.
/// </summary>
internal sealed class ResumePosition
{
    private readonly List<int> _counts;

    public ResumePosition(IReadOnlyList<int>? counts = null) => _counts = counts is null ? [] : [.. counts];

    /// <summary>Tokens received per sample.</summary>
    public IReadOnlyList<int> Counts => _counts;

    /// <summary>Records that a sample now has <paramref name="count"/> tokens.</summary>
    public void Advance(int sampleIndex, int count)
    {
        while (_counts.Count <= sampleIndex)
        {
            _counts.Add(0);
        }
        if (count > _counts[sampleIndex])
        {
            _counts[sampleIndex] = count;
        }
    }

    /// <summary>The event id for the current position.</summary>
    public string Format() => _counts.Count == 0 ? "0" : string.Join(',', _counts.Select(c => c.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Parses a <c>Last-Event-ID</c> header; throws a 400 naming the header when it is malformed.</summary>
    public static ResumePosition Parse(string value, int maxSamples)
    {
        var parts = value.Split(',');
        if (parts.Length > maxSamples)
        {
            throw ApiRequestException.BadRequest($"Last-Event-ID names {parts.Length} samples; at most {maxSamples} are allowed.", "Last-Event-ID");
        }
        var counts = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out counts[i]))
            {
                throw ApiRequestException.BadRequest(
                    $"Last-Event-ID '{value}' is not an event id of this server (comma-separated token counts, e.g. '12' or '12,9').", "Last-Event-ID");
            }
        }
        return new ResumePosition(counts);
    }
}
