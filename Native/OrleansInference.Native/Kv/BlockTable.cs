namespace OrleansInference.Native.Kv;

/// <summary>
/// The blocks of one sequence, in position order: position <c>p</c> lives in block <c>this[p / blockSize]</c>, slot
/// <c>p % blockSize</c>. Only <see cref="KvCacheManager"/> changes it, so reference counts stay in step.
/// </summary>
internal sealed class BlockTable
{
    private readonly List<int> _blocks = [];
    private int[]? _array;

    /// <summary>Blocks held.</summary>
    public int Count => _blocks.Count;

    /// <summary>The block at index <paramref name="i"/>.</summary>
    public int this[int i] => _blocks[i];

    /// <summary>The blocks as an array for the backend; cached until the table changes.</summary>
    public int[] AsArray() => _array ??= _blocks.ToArray();

    /// <summary>The blocks, in order.</summary>
    public IReadOnlyList<int> Blocks => _blocks;

    internal void Add(int block)
    {
        _blocks.Add(block);
        _array = null;
    }

    internal void Replace(int index, int block)
    {
        _blocks[index] = block;
        _array = null;
    }

    internal void RemoveLast()
    {
        _blocks.RemoveAt(_blocks.Count - 1);
        _array = null;
    }

    internal void Clear()
    {
        _blocks.Clear();
        _array = null;
    }
}
