using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// Per-stage device time of eager steps: an event after each stage, differences added up by stage name once the
/// step has finished. For benchmarks; it costs an event record per stage.
/// </summary>
internal sealed class StepProfiler : IDisposable
{
    private readonly CudaContext _context;
    private readonly List<CudaEvent> _events = [];
    private readonly List<string> _names = [];
    private int _used;

    public StepProfiler(CudaContext context) => _context = context;

    /// <summary>Milliseconds per stage, summed over the steps collected.</summary>
    public Dictionary<string, double> TotalMs { get; } = [];

    public int Steps { get; private set; }

    public void Start(CudaStream stream)
    {
        _used = 0;
        Record(stream, "");
    }

    public void Mark(CudaStream stream, string stage) => Record(stream, stage);

    /// <summary>Adds the finished step's stage times.</summary>
    public void Collect()
    {
        if (_used < 2)
        {
            return;
        }

        _events[_used - 1].Synchronize();
        for (int i = 1; i < _used; i++)
        {
            TotalMs[_names[i]] = TotalMs.GetValueOrDefault(_names[i]) + _events[i].ElapsedSince(_events[i - 1]);
        }

        Steps++;
        _used = 0;
    }

    public void Reset()
    {
        TotalMs.Clear();
        Steps = 0;
    }

    public void Dispose()
    {
        foreach (var e in _events)
        {
            e.Dispose();
        }
    }

    private void Record(CudaStream stream, string name)
    {
        if (_used == _events.Count)
        {
            _events.Add(_context.CreateEvent());
            _names.Add(name);
        }

        _names[_used] = name;
        _events[_used].Record(stream);
        _used++;
    }
}
