namespace OrleansInference.Native.Kv;

/// <summary>
/// The block-level operations a scheduler needs on sequences' <see cref="BlockTable"/>s: attach a cached prefix,
/// reserve room for new tokens (with copy-on-write of a shared partial block), fork, free, and publish full blocks to
/// the prefix cache. Single-threaded: the engine thread owns it.
/// </summary>
internal sealed class KvCacheManager
{
    public KvCacheManager(int numBlocks, int blockSize, bool enablePrefixCaching)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        BlockSize = blockSize;
        PrefixCaching = enablePrefixCaching;
        Events = new KvEventBuffer();
        Cache = new PrefixCache(numBlocks, Events);
        Pool = new BlockPool(numBlocks, Cache);
    }

    public int BlockSize { get; }

    public bool PrefixCaching { get; }

    public BlockPool Pool { get; }

    public PrefixCache Cache { get; }

    public KvEventBuffer Events { get; }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    /// <summary>Leading blocks of <paramref name="hashes"/> present in the cache (nothing is taken).</summary>
    public int CountCachedPrefix(ReadOnlySpan<ulong> hashes)
    {
        if (!PrefixCaching)
        {
            return 0;
        }
        var n = 0;
        while (n < hashes.Length && Cache.Contains(hashes[n]))
        {
            n++;
        }
        return n;
    }

    /// <summary>
    /// Appends to the empty <paramref name="table"/> the cached blocks of the longest cached prefix of
    /// <paramref name="hashes"/>, taking a reference on each. Returns how many blocks were attached.
    /// </summary>
    public int AttachCachedPrefix(BlockTable table, ReadOnlySpan<ulong> hashes)
    {
        if (table.Count != 0)
        {
            throw new InvalidOperationException("A cached prefix can only start an empty block table.");
        }
        if (!PrefixCaching)
        {
            return 0;
        }
        var n = 0;
        while (n < hashes.Length && Cache.TryGet(hashes[n], out var block))
        {
            Pool.AddRef(block);
            table.Add(block);
            n++;
        }
        return n;
    }

    /// <summary>
    /// Makes room to write <paramref name="newTokens"/> tokens after the first <paramref name="computedTokens"/> of
    /// the sequence. When the block written first is partial and shared (after a fork) it is replaced by a private
    /// copy, reported in <paramref name="copy"/>. All or nothing: false (and no change) when the pool lacks blocks.
    /// </summary>
    public bool TryReserve(BlockTable table, int computedTokens, int newTokens, out BlockCopy? copy)
    {
        copy = null;
        var needed = Math.Max(0, BlocksFor(computedTokens + newTokens) - table.Count);
        var partialIndex = computedTokens / BlockSize;
        var cow = newTokens > 0
            && computedTokens % BlockSize != 0
            && partialIndex < table.Count
            && Pool.RefCount(table[partialIndex]) > 1;
        if (Pool.Available < needed + (cow ? 1 : 0))
        {
            return false;
        }
        if (cow)
        {
            var source = table[partialIndex];
            Pool.TryAllocate(out var destination);
            Pool.Release(source);
            table.Replace(partialIndex, destination);
            copy = new BlockCopy(source, destination);
        }
        for (var i = 0; i < needed; i++)
        {
            Pool.TryAllocate(out var block);
            table.Add(block);
        }
        return true;
    }

    /// <summary>Appends the block cached under <paramref name="hash"/> to <paramref name="table"/>, taking a reference.</summary>
    public bool TryHoldCached(BlockTable table, ulong hash)
    {
        if (!PrefixCaching || !Cache.TryGet(hash, out var block))
        {
            return false;
        }
        Pool.AddRef(block);
        table.Add(block);
        return true;
    }

    /// <summary>Appends one fresh block to <paramref name="table"/> (evicting if need be); false when none is left.</summary>
    public bool TryAppendBlock(BlockTable table, out int block)
    {
        if (!Pool.TryAllocate(out block))
        {
            return false;
        }
        table.Add(block);
        return true;
    }

    /// <summary>Makes <paramref name="child"/> (empty) share every block of <paramref name="parent"/>.</summary>
    public void Fork(BlockTable parent, BlockTable child)
    {
        if (child.Count != 0)
        {
            throw new InvalidOperationException("A fork needs an empty block table.");
        }
        for (var i = 0; i < parent.Count; i++)
        {
            Pool.AddRef(parent[i]);
            child.Add(parent[i]);
        }
    }

    /// <summary>
    /// Releases every block of <paramref name="table"/>, last block first, so that among blocks released together the
    /// tail of a sequence is evicted before its prefix.
    /// </summary>
    public void Free(BlockTable table)
    {
        for (var i = table.Count - 1; i >= 0; i--)
        {
            Pool.Release(table[i]);
        }
        table.Clear();
    }

    /// <summary>
    /// Publishes blocks <paramref name="fromBlock"/>..<paramref name="toBlock"/> (exclusive) of
    /// <paramref name="table"/>, which are now full and computed, under their chained hashes.
    /// </summary>
    public void Publish(BlockTable table, int fromBlock, int toBlock, ReadOnlySpan<ulong> hashes)
    {
        if (!PrefixCaching)
        {
            return;
        }
        for (var i = fromBlock; i < toBlock; i++)
        {
            Cache.TryRegister(table[i], hashes[i]);
        }
    }

    /// <summary>
    /// Checks the pool invariant against <paramref name="tables"/>, which must be every table that holds blocks.
    /// </summary>
    public PoolAccounting CheckAccounting(IEnumerable<BlockTable> tables)
    {
        var total = Pool.Total;
        var held = new int[total];
        foreach (var t in tables)
        {
            foreach (var b in t.Blocks)
            {
                held[b]++;
            }
        }

        var violations = new List<string>();
        var onFreeList = new int[total];
        foreach (var b in Pool.FreeList)
        {
            onFreeList[b]++;
        }
        var inLru = new int[total];
        var lruLength = 0;
        foreach (var b in Cache.EvictionOrder())
        {
            inLru[b]++;
            if (++lruLength > total)
            {
                violations.Add("eviction list has a cycle");
                break;
            }
        }

        int free = 0, cachedUnreferenced = 0, referenced = 0, cached = 0;
        for (var b = 0; b < total; b++)
        {
            var refs = Pool.RefCount(b);
            var isFree = Pool.IsFree(b) && onFreeList[b] == 1 && refs == 0 && !Cache.IsCached(b) && inLru[b] == 0;
            var isCachedUnreferenced = !Pool.IsFree(b) && onFreeList[b] == 0 && refs == 0 && Cache.IsCached(b)
                && Cache.IsEvictable(b) && inLru[b] == 1;
            var isReferenced = !Pool.IsFree(b) && onFreeList[b] == 0 && refs > 0 && !Cache.IsEvictable(b) && inLru[b] == 0;
            var states = (isFree ? 1 : 0) + (isCachedUnreferenced ? 1 : 0) + (isReferenced ? 1 : 0);
            if (states != 1)
            {
                violations.Add($"block {b}: refs={refs} freeFlag={Pool.IsFree(b)} onFreeList={onFreeList[b]} cached={Cache.IsCached(b)} inLru={inLru[b]}");
            }
            if (refs != held[b])
            {
                violations.Add($"block {b}: ref count {refs} but held by {held[b]} table entries");
            }
            if (Cache.IsCached(b))
            {
                cached++;
                if (!Cache.TryGet(Cache.HashOf(b), out var indexed) || indexed != b)
                {
                    violations.Add($"block {b}: cached but its hash does not lead back to it");
                }
            }
            if (isFree) free++;
            if (isCachedUnreferenced) cachedUnreferenced++;
            if (isReferenced) referenced++;
        }
        if (cached != Cache.CachedCount)
        {
            violations.Add($"{Cache.CachedCount} hashes indexed but {cached} blocks marked cached");
        }
        if (Cache.EvictableCount != lruLength)
        {
            violations.Add($"evictable count {Cache.EvictableCount} but eviction list holds {lruLength}");
        }
        if (Pool.FreeCount != free)
        {
            violations.Add($"free count {Pool.FreeCount} but {free} blocks are free");
        }
        return new PoolAccounting(free, cachedUnreferenced, referenced, violations);
    }
}
