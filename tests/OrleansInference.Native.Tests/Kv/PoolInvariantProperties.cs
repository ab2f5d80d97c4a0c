using FsCheck.Xunit;
using OrleansInference.Native.Kv;
using Xunit;

namespace OrleansInference.Native.Tests.Kv;

/// <summary>
/// Random sequences of allocate / append / fork / free / prefix-lookup / evict operations against the real KV manager,
/// with a model of block contents: after every operation the pool invariant holds, every sequence reads its own
/// tokens back from its blocks (so copy-on-write never let one sample overwrite another's), every cached block holds
/// the tokens its hash names, and the replayed KV events equal the cached hash set.
/// </summary>
public sealed class PoolInvariantProperties
{
    private const int BlockSize = 4;
    private const int NumBlocks = 12;
    private const ulong Root = 0xfeedUL;

    [Property(MaxTest = 300)]
    public void Pool_accounting_and_contents_stay_consistent(int[] script)
    {
        var world = new World();
        foreach (var x in script)
        {
            var op = (int)((uint)x % 7);
            var arg = (int)((uint)x / 7);
            world.Apply(op, arg);
            world.Check();
        }
        foreach (var s in world.Live.ToList())
        {
            world.Kv.Free(s.Table);
            world.Live.Remove(s);
        }
        world.Check();
        Assert.Equal(NumBlocks, world.Kv.Pool.Available);
    }

    private sealed class Seq
    {
        public BlockTable Table { get; } = new();
        public List<int> Tokens { get; } = [];
        public int Computed { get; set; }
        public int Published { get; set; }
    }

    private sealed class World
    {
        public KvCacheManager Kv { get; } = new(NumBlocks, BlockSize, enablePrefixCaching: true);
        public List<Seq> Live { get; } = [];
        private readonly int[][] _slots = Enumerable.Range(0, NumBlocks).Select(_ => Enumerable.Repeat(-1, BlockSize).ToArray()).ToArray();
        private readonly HashSet<ulong> _replayed = [];
        private readonly Dictionary<ulong, int[]> _tokensOfHash = [];

        public void Apply(int op, int arg)
        {
            switch (op)
            {
                case 0: NewSequence(arg); break;
                case 1: case 2: if (Live.Count > 0) Append(Live[arg % Live.Count], 1 + arg % (BlockSize + 2)); break;
                case 3: if (Live.Count > 0) Fork(Live[arg % Live.Count]); break;
                case 4: if (Live.Count > 0) Free(Live[arg % Live.Count]); break;
                case 5: Lookup(arg); break;
                default: Evict(1 + arg % 4); break;
            }
        }

        // Tokens from a tiny alphabet, so different sequences often share prefixes (cache hits and hash clashes).
        private static List<int> Tokens(int arg, int length)
        {
            var r = new Random(arg);
            return Enumerable.Range(0, length).Select(_ => r.Next(2)).ToList();
        }

        private void NewSequence(int arg)
        {
            var s = new Seq();
            s.Tokens.AddRange(Tokens(arg, 1 + arg % 14));
            var hashes = BlockHasher.HashBlocks(s.Tokens.ToArray().AsSpan(0, s.Tokens.Count - 1), BlockSize, Root);
            var hits = Kv.AttachCachedPrefix(s.Table, hashes);
            s.Computed = s.Published = hits * BlockSize;
            for (var p = 0; p < s.Computed; p++)
            {
                Assert.Equal(s.Tokens[p], _slots[s.Table[p / BlockSize]][p % BlockSize]);
            }
            var rest = s.Tokens.Count - s.Computed;
            if (Kv.TryReserve(s.Table, s.Computed, rest, out var copy))
            {
                Assert.Null(copy); // nobody else can hold a partial block of a new sequence
                Write(s, s.Computed, rest);
                Live.Add(s);
            }
            else
            {
                Assert.Equal(hits, s.Table.Count);
                Kv.Free(s.Table);
            }
        }

        private void Append(Seq s, int count)
        {
            var start = s.Tokens.Count;
            s.Tokens.AddRange(Tokens(start * 31 + count, count));
            var before = s.Table.Blocks.ToList();
            if (Kv.TryReserve(s.Table, s.Computed, count, out var copy))
            {
                if (copy is { } c)
                {
                    Assert.Equal(before[s.Computed / BlockSize], c.Source);
                    Array.Copy(_slots[c.Source], _slots[c.Destination], BlockSize);
                }
                Write(s, s.Computed, count);
            }
            else
            {
                Assert.Equal(before, s.Table.Blocks.ToList());
                s.Tokens.RemoveRange(start, count);
            }
        }

        private void Write(Seq s, int from, int count)
        {
            for (var p = from; p < from + count; p++)
            {
                _slots[s.Table[p / BlockSize]][p % BlockSize] = s.Tokens[p];
            }
            s.Computed = from + count;
            var full = s.Computed / BlockSize;
            var hashes = BlockHasher.HashBlocks(s.Tokens.ToArray().AsSpan(0, full * BlockSize), BlockSize, Root);
            for (var i = s.Published; i < full; i++)
            {
                _tokensOfHash[hashes[i]] = s.Tokens.Skip(0).Take((i + 1) * BlockSize).ToArray();
            }
            Kv.Publish(s.Table, s.Published, full, hashes);
            s.Published = full;
        }

        private void Fork(Seq parent)
        {
            var child = new Seq { Computed = parent.Computed, Published = parent.Published };
            child.Tokens.AddRange(parent.Tokens);
            Kv.Fork(parent.Table, child.Table);
            Live.Add(child);
        }

        private void Free(Seq s)
        {
            Kv.Free(s.Table);
            Assert.Equal(0, s.Table.Count);
            Live.Remove(s);
        }

        private void Lookup(int arg)
        {
            var tokens = Tokens(arg, 2 + arg % 14);
            var hashes = BlockHasher.HashBlocks(tokens.ToArray(), BlockSize, Root);
            var n = Kv.CountCachedPrefix(hashes);
            for (var i = 0; i < n; i++)
            {
                Assert.True(Kv.Cache.TryGet(hashes[i], out var block));
                for (var j = 0; j < BlockSize; j++)
                {
                    Assert.Equal(tokens[i * BlockSize + j], _slots[block][j]);
                }
            }
            Assert.True(n == hashes.Length || !Kv.Cache.Contains(hashes[n]));
        }

        // A transient table (like an import or a scoring pass) that may have to evict cached blocks.
        private void Evict(int blocks)
        {
            var t = new BlockTable();
            if (Kv.TryReserve(t, 0, blocks * BlockSize, out _))
            {
                for (var i = 0; i < t.Count; i++)
                {
                    Array.Fill(_slots[t[i]], -1);
                }
                Assert.True(Kv.CheckAccounting(Live.Select(s => s.Table).Append(t)).IsClean);
            }
            Kv.Free(t);
        }

        public void Check()
        {
            var report = Kv.CheckAccounting(Live.Select(s => s.Table));
            Assert.True(report.IsClean, report.ToString());
            Assert.Equal(NumBlocks, report.Free + report.CachedUnreferenced + report.Referenced);

            foreach (var s in Live)
            {
                Assert.Equal(Kv.BlocksFor(s.Computed), s.Table.Count);
                for (var p = 0; p < s.Computed; p++)
                {
                    Assert.Equal(s.Tokens[p], _slots[s.Table[p / BlockSize]][p % BlockSize]);
                }
            }

            foreach (var e in Kv.Events.Drain())
            {
                foreach (var h in e.BlockHashes)
                {
                    if (e.Kind == KvEventKind.Stored) Assert.True(_replayed.Add(h));
                    else Assert.True(_replayed.Remove(h));
                }
            }
            Assert.True(_replayed.SetEquals(Kv.Cache.Hashes));
            foreach (var h in Kv.Cache.Hashes)
            {
                Assert.True(Kv.Cache.TryGet(h, out var block));
                var expected = _tokensOfHash[h];
                for (var j = 0; j < BlockSize; j++)
                {
                    Assert.Equal(expected[expected.Length - BlockSize + j], _slots[block][j]);
                }
            }
        }
    }
}
