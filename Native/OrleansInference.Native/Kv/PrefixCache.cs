namespace OrleansInference.Native.Kv;

/// <summary>
/// Full blocks indexed by their chained hash (<see cref="BlockHasher"/>). A cached block keeps its contents after the
/// last sequence lets go of it and stays findable; such unreferenced blocks form a least-recently-released list and
/// are evicted from its head only when the pool has no free block left. Every change is reported to the
/// <see cref="KvEventBuffer"/>.
/// </summary>
internal sealed class PrefixCache
{
    private const int None = -1;

    private readonly Dictionary<ulong, int> _blockByHash = [];
    private readonly ulong[] _hashOf;
    private readonly bool[] _cached;
    // Intrusive doubly linked LRU list over block ids: O(1) unlink when a cached block is reused.
    private readonly int[] _prev;
    private readonly int[] _next;
    private readonly bool[] _inLru;
    private readonly KvEventBuffer _events;
    private int _head = None;
    private int _tail = None;

    public PrefixCache(int numBlocks, KvEventBuffer events)
    {
        _hashOf = new ulong[numBlocks];
        _cached = new bool[numBlocks];
        _prev = new int[numBlocks];
        _next = new int[numBlocks];
        _inLru = new bool[numBlocks];
        _events = events;
    }

    /// <summary>Blocks registered under a hash (referenced or not).</summary>
    public int CachedCount => _blockByHash.Count;

    /// <summary>Cached blocks no sequence holds: reusable by hash, evictable for space.</summary>
    public int EvictableCount { get; private set; }

    /// <summary>Hashes of all cached blocks.</summary>
    public IEnumerable<ulong> Hashes => _blockByHash.Keys;

    public bool TryGet(ulong hash, out int block) => _blockByHash.TryGetValue(hash, out block);

    public bool Contains(ulong hash) => _blockByHash.ContainsKey(hash);

    public bool IsCached(int block) => _cached[block];

    public bool IsEvictable(int block) => _inLru[block];

    public ulong HashOf(int block) => _hashOf[block];

    /// <summary>
    /// Makes <paramref name="block"/> findable under <paramref name="hash"/>. False when the block is already cached or
    /// another block holds that hash (two sequences computed the same prefix at once; the second copy stays private).
    /// </summary>
    public bool TryRegister(int block, ulong hash)
    {
        if (_cached[block] || !_blockByHash.TryAdd(hash, block))
        {
            return false;
        }
        _cached[block] = true;
        _hashOf[block] = hash;
        _events.Stored(hash);
        return true;
    }

    /// <summary>The last holder released a cached block: it becomes the most recently released evictable block.</summary>
    public void MarkEvictable(int block)
    {
        _prev[block] = _tail;
        _next[block] = None;
        if (_tail != None)
        {
            _next[_tail] = block;
        }
        else
        {
            _head = block;
        }
        _tail = block;
        _inLru[block] = true;
        EvictableCount++;
    }

    /// <summary>A sequence took an evictable cached block: it leaves the eviction list.</summary>
    public void MarkInUse(int block)
    {
        var p = _prev[block];
        var n = _next[block];
        if (p != None) _next[p] = n; else _head = n;
        if (n != None) _prev[n] = p; else _tail = p;
        _inLru[block] = false;
        EvictableCount--;
    }

    /// <summary>Evicts the least recently released unreferenced block; its hash is forgotten.</summary>
    public bool TryEvict(out int block)
    {
        block = _head;
        if (block == None)
        {
            return false;
        }
        MarkInUse(block);
        var hash = _hashOf[block];
        _blockByHash.Remove(hash);
        _cached[block] = false;
        _events.Removed(hash);
        return true;
    }

    /// <summary>Evictable blocks from least to most recently released (for the accounting check).</summary>
    public IEnumerable<int> EvictionOrder()
    {
        for (var b = _head; b != None; b = _next[b])
        {
            yield return b;
        }
    }
}
