namespace OrleansInference.Native.Scheduling;

/// <summary>
/// Waiting sequences in two classes, each first-come first-served. Preempted sequences go back to the front of their
/// class, so they resume before anything that arrived after them.
/// </summary>
internal sealed class WaitingQueue
{
    private readonly LinkedList<Sequence> _interactive = new();
    private readonly LinkedList<Sequence> _batch = new();
    private readonly Dictionary<Sequence, LinkedListNode<Sequence>> _nodes = [];

    public int Count => _nodes.Count;

    public void Enqueue(Sequence s) => _nodes.Add(s, Class(s).AddLast(s));

    /// <summary>
    /// Puts a preempted sequence back at the front of its class, behind other preempted ones that arrived earlier, so
    /// the class stays in arrival order among the preempted.
    /// </summary>
    public void Requeue(Sequence s)
    {
        var list = Class(s);
        var node = list.First;
        while (node is not null && node.Value.PreemptedInStep >= 0 && Earlier(node.Value, s))
        {
            node = node.Next;
        }
        _nodes.Add(s, node is null ? list.AddLast(s) : list.AddBefore(node, s));
    }

    public bool Remove(Sequence s)
    {
        if (!_nodes.Remove(s, out var node))
        {
            return false;
        }
        node.List!.Remove(node);
        return true;
    }

    /// <summary>Interactive first, then batch; FCFS within each.</summary>
    public IEnumerable<Sequence> InOrder()
    {
        foreach (var s in _interactive) yield return s;
        foreach (var s in _batch) yield return s;
    }

    private LinkedList<Sequence> Class(Sequence s) => s.Priority == RequestPriority.Interactive ? _interactive : _batch;

    private static bool Earlier(Sequence a, Sequence b) =>
        a.Arrival < b.Arrival || (a.Arrival == b.Arrival && a.SampleIndex < b.SampleIndex);
}
