using System.Diagnostics;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// How far a chaos run has got, for a fault plan to act on: it waits for a share of the requests to finish, so faults
/// land while others are streaming, whatever the machine's speed. It also keeps the fault timeline.
/// </summary>
public sealed class ChaosProgress(int total)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<FaultEvent> _faults = [];
    private readonly object _gate = new();
    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];
    private int _completed;

    /// <summary>Requests in the run.</summary>
    public int Total { get; } = total;

    /// <summary>Requests ended so far (completed or failed).</summary>
    public int Completed => Volatile.Read(ref _completed);

    /// <summary>Seconds since the run started.</summary>
    public double Elapsed => _clock.Elapsed.TotalSeconds;

    /// <summary>The faults noted so far.</summary>
    public IReadOnlyList<FaultEvent> Faults { get { lock (_gate) return _faults.ToArray(); } }

    /// <summary>Notes a fault (or a step of one) on the timeline.</summary>
    public void Note(string what)
    {
        lock (_gate) _faults.Add(new FaultEvent(Math.Round(Elapsed, 2), what));
    }

    /// <summary>Waits until <paramref name="fraction"/> of the requests have ended.</summary>
    public Task WhenCompletedAsync(double fraction, CancellationToken cancellationToken)
    {
        var count = (int)Math.Ceiling(fraction * Total);
        lock (_gate)
        {
            if (_completed >= count)
            {
                return Task.CompletedTask;
            }
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task.WaitAsync(cancellationToken);
        }
    }

    internal void RequestEnded()
    {
        lock (_gate)
        {
            _completed++;
            foreach (var w in _waiters.Where(w => w.Count <= _completed).ToList())
            {
                w.Reached.TrySetResult();
                _waiters.Remove(w);
            }
        }
    }
}
