using System.Diagnostics;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// What one request's client actually received: each token with its index in the output, when it came, and every
/// break (a lost connection, an idle timeout, a re-attachment). Tokens that arrive at an index already held are
/// counted as duplicates and dropped, tokens that skip ahead leave a gap: both are failures of the resume protocol.
/// </summary>
public sealed class TokenLedger(ChaosRequest request)
{
    private readonly List<int> _tokens = [];
    private readonly List<long> _arrivals = [];
    private readonly List<string> _breaks = [];
    private readonly object _gate = new();
    private long _startedAt;

    /// <summary>The request.</summary>
    public ChaosRequest Request { get; } = request;

    /// <summary>Tokens received, in output order (duplicates dropped).</summary>
    public IReadOnlyList<int> Tokens { get { lock (_gate) return _tokens.ToArray(); } }

    /// <summary>Tokens received again at an index already held.</summary>
    public int Duplicates { get; private set; }

    /// <summary>Indices skipped (a chunk started past the end of what was held).</summary>
    public int Gaps { get; private set; }

    /// <summary>Breaks seen by the client (reconnects, re-attachments).</summary>
    public IReadOnlyList<string> Breaks { get { lock (_gate) return _breaks.ToArray(); } }

    /// <summary>Worker migrations the cluster reported for this request (SDK usage), or null when unknown.</summary>
    public int? Migrations { get; set; }

    /// <summary>True once the final chunk (finish reason) arrived.</summary>
    public bool Finished { get; private set; }

    /// <summary>Finish reason as the client saw it.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>Why the request failed, when it did.</summary>
    public string? Error { get; set; }

    /// <summary>Marks the moment the request was sent.</summary>
    public void Start() => _startedAt = Stopwatch.GetTimestamp();

    /// <summary>Records <paramref name="tokens"/> said to start at output index <paramref name="offset"/>.</summary>
    public void Add(int offset, IReadOnlyList<int> tokens)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (offset > _tokens.Count)
            {
                Gaps += offset - _tokens.Count;
            }
            for (var i = 0; i < tokens.Count; i++)
            {
                if (offset + i < _tokens.Count)
                {
                    Duplicates++;
                    continue;
                }
                _tokens.Add(tokens[i]);
                _arrivals.Add(now);
            }
        }
    }

    /// <summary>Records the end of the sample.</summary>
    public void Finish(string reason)
    {
        Finished = true;
        FinishReason = reason;
    }

    /// <summary>Records a break and what caused it.</summary>
    public void Break(string what)
    {
        lock (_gate) _breaks.Add(what);
    }

    /// <summary>
    /// The longest wait for a token (from the start for the first): for a request hit by a fault, the time from its
    /// last token before the fault to its first token after it, i.e. its recovery time.
    /// </summary>
    public TimeSpan LongestStall
    {
        get
        {
            lock (_gate)
            {
                var previous = _startedAt;
                var longest = 0L;
                foreach (var t in _arrivals)
                {
                    longest = Math.Max(longest, t - previous);
                    previous = t;
                }
                return Stopwatch.GetElapsedTime(0, longest);
            }
        }
    }
}
