namespace OrleansInference.Native.Kv;

/// <summary>
/// Collects the prefix cache's changes between two flushes, merging consecutive changes of one kind into one
/// <see cref="KvEvent"/> so a step that stores many blocks publishes one event, not many.
/// </summary>
internal sealed class KvEventBuffer
{
    private readonly List<KvEvent> _events = [];
    private List<ulong>? _current;
    private KvEventKind _currentKind;

    /// <summary>Whether anything is waiting to be flushed.</summary>
    public bool HasEvents => _events.Count > 0 || _current is not null;

    /// <summary>A block became reusable under <paramref name="hash"/>.</summary>
    public void Stored(ulong hash) => Add(KvEventKind.Stored, hash);

    /// <summary>The block cached under <paramref name="hash"/> was evicted.</summary>
    public void Removed(ulong hash) => Add(KvEventKind.Removed, hash);

    /// <summary>Returns the buffered events in order and empties the buffer.</summary>
    public IReadOnlyList<KvEvent> Drain()
    {
        CloseCurrent();
        if (_events.Count == 0)
        {
            return [];
        }
        var result = _events.ToArray();
        _events.Clear();
        return result;
    }

    private void Add(KvEventKind kind, ulong hash)
    {
        if (_current is null || _currentKind != kind)
        {
            CloseCurrent();
            _current = [];
            _currentKind = kind;
        }
        _current.Add(hash);
    }

    private void CloseCurrent()
    {
        if (_current is not null)
        {
            _events.Add(new KvEvent(_currentKind, _current.ToArray()));
            _current = null;
        }
    }
}
