using OrleansInference.Native.Kv;
using Xunit;

namespace OrleansInference.Native.Tests.Kv;

public sealed class CopyOnWriteTests
{
    [Fact]
    public void Forked_samples_copy_a_shared_partial_block_before_appending_and_the_last_writes_in_place()
    {
        var kv = new KvCacheManager(8, 4, true);
        var parent = new BlockTable();
        Assert.True(kv.TryReserve(parent, 0, 6, out var none)); // blocks: full + partial (2 of 4)
        Assert.Null(none);
        var c1 = new BlockTable();
        var c2 = new BlockTable();
        kv.Fork(parent, c1);
        kv.Fork(parent, c2);
        var shared = parent[1];
        Assert.Equal(3, kv.Pool.RefCount(shared));

        Assert.True(kv.TryReserve(c1, 6, 1, out var copy1));
        Assert.Equal(shared, copy1!.Value.Source);
        Assert.NotEqual(shared, c1[1]);
        Assert.Equal(c1[1], copy1.Value.Destination);
        Assert.Equal(parent[0], c1[0]); // full block stays shared

        Assert.True(kv.TryReserve(c2, 6, 1, out var copy2));
        Assert.NotNull(copy2);
        Assert.True(kv.TryReserve(parent, 6, 1, out var copy3));
        Assert.Null(copy3); // last holder
        Assert.Equal(shared, parent[1]);
        Assert.Equal(3, kv.Pool.RefCount(parent[0]));
        Assert.True(kv.CheckAccounting([parent, c1, c2]).IsClean);
    }

    [Fact]
    public void A_fork_at_a_block_boundary_needs_no_copy()
    {
        var kv = new KvCacheManager(8, 4, true);
        var parent = new BlockTable();
        Assert.True(kv.TryReserve(parent, 0, 8, out _));
        var child = new BlockTable();
        kv.Fork(parent, child);
        Assert.True(kv.TryReserve(child, 8, 1, out var copy));
        Assert.Null(copy);
        Assert.Equal(3, child.Count);
        Assert.NotEqual(parent.Count, child.Count);
    }

    [Fact]
    public void Reserve_is_all_or_nothing()
    {
        var kv = new KvCacheManager(3, 4, true);
        var parent = new BlockTable();
        Assert.True(kv.TryReserve(parent, 0, 6, out _));
        var child = new BlockTable();
        kv.Fork(parent, child);
        // Needs a copy of block 1 plus two new blocks, but only one block is free.
        Assert.False(kv.TryReserve(child, 6, 6, out var copy));
        Assert.Null(copy);
        Assert.Equal(2, child.Count);
        Assert.Equal(1, kv.Pool.FreeCount);
        Assert.True(kv.CheckAccounting([parent, child]).IsClean);
    }
}
