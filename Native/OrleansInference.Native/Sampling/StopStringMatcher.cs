namespace OrleansInference.Native.Sampling;

/// <summary>The outcome of feeding text to a <see cref="StopStringMatcher"/>.</summary>
/// <param name="Emit">Text that is now safe to send to the client.</param>
/// <param name="Matched">The stop string that ended generation, or null.</param>
public readonly record struct StopMatch(string Emit, string? Matched);

/// <summary>
/// Finds stop strings in streamed text. Text that might still be the beginning of a stop string is held back; on a
/// match only the text before it is emitted and the stop string itself is never emitted.
/// </summary>
/// <remarks>
/// When several stop strings occur, the one that is complete first in the stream wins (the earliest end; on equal
/// ends the longer one), so the result does not depend on how the text was split into pushes. After a match the
/// matcher is finished: further pushes emit nothing.
/// </remarks>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _held = "";

    /// <summary>Creates a matcher; empty strings are ignored.</summary>
    public StopStringMatcher(IReadOnlyList<string> stops)
    {
        ArgumentNullException.ThrowIfNull(stops);
        _stops = stops.Where(s => !string.IsNullOrEmpty(s)).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>The stop string that matched, once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Whether a stop string has matched.</summary>
    public bool IsStopped => Matched is not null;

    /// <summary>Feeds newly decoded text.</summary>
    public StopMatch Push(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IsStopped)
        {
            return new StopMatch("", null);
        }

        if (_stops.Length == 0)
        {
            return new StopMatch(text, null);
        }

        var buffer = _held.Length == 0 ? text : _held + text;

        var bestStart = -1;
        var bestEnd = int.MaxValue;
        string? best = null;
        foreach (var stop in _stops)
        {
            var at = buffer.IndexOf(stop, StringComparison.Ordinal);
            if (at < 0)
            {
                continue;
            }

            var end = at + stop.Length;
            if (end < bestEnd || (end == bestEnd && at < bestStart))
            {
                bestStart = at;
                bestEnd = end;
                best = stop;
            }
        }

        if (best is not null)
        {
            Matched = best;
            _held = "";
            return new StopMatch(buffer[..bestStart], best);
        }

        var hold = LongestHeldSuffix(buffer);
        _held = buffer[(buffer.Length - hold)..];
        return new StopMatch(buffer[..(buffer.Length - hold)], null);
    }

    /// <summary>Releases the held-back text at the end of generation (nothing after a match).</summary>
    public string Flush()
    {
        var rest = _held;
        _held = "";
        return rest;
    }

    /// <summary>Length of the longest suffix of <paramref name="buffer"/> that is a proper prefix of some stop string.</summary>
    private int LongestHeldSuffix(string buffer)
    {
        var best = 0;
        foreach (var stop in _stops)
        {
            var max = Math.Min(stop.Length - 1, buffer.Length);
            for (var len = max; len > best; len--)
            {
                if (string.CompareOrdinal(buffer, buffer.Length - len, stop, 0, len) == 0)
                {
                    best = len;
                    break;
                }
            }
        }

        return best;
    }
}
