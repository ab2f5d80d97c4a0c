using OrleansInference.Native.Kv;
using Xunit;

namespace OrleansInference.Native.Tests.Kv;

public sealed class BlockPoolTests
{
    [Fact]
    public void Allocates_every_block_once_then_refuses()
    {
        var kv = new KvCacheManager(numBlocks: 4, blockSize: 2, enablePrefixCaching: true);
        var got = new HashSet<int>();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(kv.Pool.TryAllocate(out var b));
            Assert.True(got.Add(b));
            Assert.Equal(1, kv.Pool.RefCount(b));
        }
        Assert.False(kv.Pool.TryAllocate(out _));
        Assert.Equal(0, kv.Pool.Available);
    }

    [Fact]
    public void Shared_block_is_freed_only_by_the_last_holder()
    {
        var kv = new KvCacheManager(2, 2, true);
        Assert.True(kv.Pool.TryAllocate(out var b));
        kv.Pool.AddRef(b);
        kv.Pool.Release(b);
        Assert.Equal(1, kv.Pool.FreeCount);
        kv.Pool.Release(b);
        Assert.Equal(2, kv.Pool.FreeCount);
        Assert.Throws<InvalidOperationException>(() => kv.Pool.Release(b));
        Assert.Throws<InvalidOperationException>(() => kv.Pool.AddRef(b));
    }

    [Fact]
    public void Cached_blocks_stay_reusable_and_are_evicted_least_recently_released_first_only_when_nothing_is_free()
    {
        var kv = new KvCacheManager(3, 2, true);
        var a = new BlockTable();
        var b = new BlockTable();
        Assert.True(kv.TryReserve(a, 0, 2, out _));
        Assert.True(kv.TryReserve(b, 0, 2, out _));
        kv.Publish(a, 0, 1, [111UL]);
        kv.Publish(b, 0, 1, [222UL]);
        kv.Free(a); // released first: evicted first
        kv.Free(b);
        Assert.Equal(1, kv.Pool.FreeCount);
        Assert.Equal(2, kv.Cache.EvictableCount);
        Assert.Equal(3, kv.Pool.Available);

        // The free block goes first; the cached ones are still there.
        Assert.True(kv.Pool.TryAllocate(out var fresh));
        Assert.True(kv.Cache.Contains(111UL));
        Assert.True(kv.Cache.Contains(222UL));

        // Now eviction: 111 (released earlier) goes before 222.
        Assert.True(kv.Pool.TryAllocate(out var evicted));
        Assert.False(kv.Cache.Contains(111UL));
        Assert.True(kv.Cache.Contains(222UL));
        Assert.NotEqual(fresh, evicted);

        var events = kv.Events.Drain();
        Assert.Equal(
            ["Stored:111,222", "Removed:111"],
            events.Select(e => $"{e.Kind}:{string.Join(",", e.BlockHashes)}").ToArray());
        Assert.False(kv.Events.HasEvents);
    }

    [Fact]
    public void Reusing_an_evictable_block_takes_it_off_the_eviction_list()
    {
        var kv = new KvCacheManager(2, 2, true);
        var a = new BlockTable();
        Assert.True(kv.TryReserve(a, 0, 2, out _));
        kv.Publish(a, 0, 1, [7UL]);
        kv.Free(a);
        var b = new BlockTable();
        Assert.Equal(1, kv.AttachCachedPrefix(b, [7UL, 8UL]));
        Assert.Equal(0, kv.Cache.EvictableCount);
        Assert.Equal(1, kv.Pool.Available);
        Assert.True(kv.CheckAccounting([b]).IsClean);
        kv.Free(b);
        Assert.True(kv.CheckAccounting([]).IsClean);
    }

    [Fact]
    public void Disabled_prefix_caching_never_caches()
    {
        var kv = new KvCacheManager(2, 2, enablePrefixCaching: false);
        var a = new BlockTable();
        Assert.True(kv.TryReserve(a, 0, 2, out _));
        kv.Publish(a, 0, 1, [7UL]);
        Assert.Equal(0, kv.Cache.CachedCount);
        kv.Free(a);
        Assert.Equal(2, kv.Pool.FreeCount);
        Assert.Equal(0, kv.AttachCachedPrefix(new BlockTable(), [7UL]));
        Assert.False(kv.Events.HasEvents);
    }

    [Fact]
    public void Accounting_check_notices_a_table_it_was_not_told_about()
    {
        var kv = new KvCacheManager(2, 2, true);
        var a = new BlockTable();
        Assert.True(kv.TryReserve(a, 0, 3, out _));
        Assert.True(kv.CheckAccounting([a]).IsClean);
        var report = kv.CheckAccounting([]);
        Assert.False(report.IsClean);
        Assert.Contains("held by 0", report.ToString());
    }
}
