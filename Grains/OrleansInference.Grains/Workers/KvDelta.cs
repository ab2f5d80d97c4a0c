using OrleansInference.Native;
using OrleansInference.Grains.KvIndex;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// The net effect of consecutive KV event batches of one engine: per hash only its last operation survives, after an
/// optional clear. Applying a net delta is idempotent for every hash whose last operation an index has already seen,
/// so a delta may safely overlap a snapshot the index took in the middle of its range.
/// Only device-tier events are indexed (host-tier copies are not routed to).
/// </summary>
internal sealed class KvDelta
{
    private readonly Dictionary<ulong, bool> _stored = [];

    public long FirstSequence { get; private set; }

    public long LastSequence { get; private set; }

    public bool Cleared { get; private set; }

    public bool IsEmpty => FirstSequence == 0;

    public void Add(KvEventBatch batch)
    {
        if (FirstSequence == 0) FirstSequence = batch.Sequence;
        LastSequence = batch.Sequence;
        foreach (var e in batch.Events)
        {
            switch (e.Kind)
            {
                case KvEventKind.Cleared:
                    _stored.Clear();
                    Cleared = true;
                    break;
                case KvEventKind.Stored when e.Tier == KvTier.Device:
                    foreach (var h in e.BlockHashes) _stored[h] = true;
                    break;
                case KvEventKind.Removed when e.Tier == KvTier.Device:
                    foreach (var h in e.BlockHashes) _stored[h] = false;
                    break;
            }
        }
    }

    /// <summary>Splits into per-shard stored/removed lists; shards with nothing (and no clear) get null.</summary>
    public (List<ulong> Stored, List<ulong> Removed)?[] SplitByShard(int shards)
    {
        var result = new (List<ulong> Stored, List<ulong> Removed)?[shards];
        if (Cleared)
        {
            for (var s = 0; s < shards; s++) result[s] = ([], []);
        }
        foreach (var (hash, stored) in _stored)
        {
            var s = KvShards.ShardOf(hash, shards);
            var lists = result[s] ??= ([], []);
            (stored ? lists.Stored : lists.Removed).Add(hash);
        }
        return result;
    }
}
