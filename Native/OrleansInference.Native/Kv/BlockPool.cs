namespace OrleansInference.Native.Kv;

/// <summary>
/// A fixed number of KV blocks with a free list and per-block reference counts. Each block is exactly one of: free,
/// cached but unreferenced (evictable, in <see cref="PrefixCache"/>), or referenced by one or more block tables.
/// Allocation takes a free block first and evicts the least recently released cached block only when none is free.
/// </summary>
internal sealed class BlockPool
{
    private readonly int[] _refs;
    private readonly int[] _freeStack;
    private readonly bool[] _isFree;
    private readonly PrefixCache _cache;
    private int _freeCount;

    public BlockPool(int numBlocks, PrefixCache cache)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numBlocks);
        _refs = new int[numBlocks];
        _freeStack = new int[numBlocks];
        _isFree = new bool[numBlocks];
        _cache = cache;
        // Stack top is block 0, so allocation order is deterministic and starts at the bottom of the pool.
        for (var i = 0; i < numBlocks; i++)
        {
            _freeStack[i] = numBlocks - 1 - i;
            _isFree[i] = true;
        }
        _freeCount = numBlocks;
    }

    /// <summary>Blocks in the pool.</summary>
    public int Total => _refs.Length;

    /// <summary>Blocks on the free list.</summary>
    public int FreeCount => _freeCount;

    /// <summary>Blocks an allocation can get: free ones plus evictable cached ones.</summary>
    public int Available => _freeCount + _cache.EvictableCount;

    public int RefCount(int block) => _refs[block];

    public bool IsFree(int block) => _isFree[block];

    /// <summary>Takes a block with reference count 1; false when every block is referenced.</summary>
    public bool TryAllocate(out int block)
    {
        if (_freeCount > 0)
        {
            block = _freeStack[--_freeCount];
            _isFree[block] = false;
        }
        else if (!_cache.TryEvict(out block))
        {
            return false;
        }
        _refs[block] = 1;
        return true;
    }

    /// <summary>Another table holds <paramref name="block"/> (a fork, or a prefix-cache hit).</summary>
    public void AddRef(int block)
    {
        if (_isFree[block])
        {
            throw new InvalidOperationException($"Block {block} is free and cannot be shared.");
        }
        if (_refs[block]++ == 0)
        {
            _cache.MarkInUse(block);
        }
    }

    /// <summary>A table let go of <paramref name="block"/>; at zero it becomes evictable if cached, else free.</summary>
    public void Release(int block)
    {
        if (_refs[block] <= 0)
        {
            throw new InvalidOperationException($"Block {block} released more often than it was taken.");
        }
        if (--_refs[block] > 0)
        {
            return;
        }
        if (_cache.IsCached(block))
        {
            _cache.MarkEvictable(block);
        }
        else
        {
            _isFree[block] = true;
            _freeStack[_freeCount++] = block;
        }
    }

    /// <summary>Blocks on the free list (for the accounting check).</summary>
    public ReadOnlySpan<int> FreeList => _freeStack.AsSpan(0, _freeCount);
}
