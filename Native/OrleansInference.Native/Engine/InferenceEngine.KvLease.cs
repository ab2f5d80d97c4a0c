using OrleansInference.Native.Kv;

namespace OrleansInference.Native.Engine;

/// <summary>The cached blocks of a prefix, held (referenced) for a transport so they cannot be evicted while read.</summary>
internal sealed class KvBlockLease(int[] tokens, ulong[] hashes, string? cacheSalt, BlockTable hold)
{
    /// <summary>The prefix's tokens (whole blocks).</summary>
    public int[] Tokens { get; } = tokens;

    /// <summary>Chained hash of each block.</summary>
    public ulong[] Hashes { get; } = hashes;

    public string? CacheSalt { get; } = cacheSalt;

    /// <summary>Pool block ids, in prefix order.</summary>
    public int[] Blocks { get; } = [.. hold.Blocks];

    internal BlockTable Hold { get; } = hold;
}

/// <summary>
/// Blocks set aside on a receiving engine for an incoming prefix: the leading blocks it already caches (held) and
/// fresh blocks for the rest. Committing publishes the fresh blocks under their hashes; abandoning frees them.
/// </summary>
internal sealed class KvBlockReservation(int present, int[] fresh, ulong[] hashes, BlockTable hold)
{
    /// <summary>Leading blocks already cached here.</summary>
    public int Present { get; } = present;

    /// <summary>Pool block ids for blocks <see cref="Present"/>.. of the prefix, in order.</summary>
    public int[] Fresh { get; } = fresh;

    public ulong[] Hashes { get; } = hashes;

    internal BlockTable Hold { get; } = hold;

    internal bool Settled { get; set; }
}

// Block-level access for KV transports that move bytes themselves (GPU to GPU): hold, reserve, commit, release.
public sealed partial class InferenceEngine
{
    private readonly HashSet<BlockTable> _transferHolds = [];

    /// <summary>
    /// Holds the cached blocks of the longest cached prefix of <paramref name="tokenIds"/> (possibly none) until
    /// <see cref="ReleaseAsync(KvBlockLease)"/>. <paramref name="fence"/> runs on the engine thread first (e.g. waits
    /// for the backend's stream, so the blocks' bytes are final).
    /// </summary>
    internal Task<KvBlockLease> HoldCachedPrefixAsync(IReadOnlyList<int> tokenIds, string? cacheSalt, Action? fence, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        CheckIds(tokenIds, "token_ids");
        var tokens = tokenIds.ToArray();
        return Run(() =>
        {
            fence?.Invoke();
            var bs = _kv.BlockSize;
            var hashes = BlockHasher.HashBlocks(tokens, bs, BlockHasher.Root(Info.ModelId, cacheSalt));
            var hold = new BlockTable();
            var n = 0;
            while (n < hashes.Length && _kv.TryHoldCached(hold, hashes[n]))
            {
                n++;
            }
            _transferHolds.Add(hold);
            return new KvBlockLease(tokens[..(n * bs)], hashes[..n], cacheSalt, hold);
        }, cancellationToken);
    }

    /// <summary>Ends a hold taken by <see cref="HoldCachedPrefixAsync"/> (the blocks stay cached).</summary>
    internal Task ReleaseAsync(KvBlockLease lease) => Run(() =>
    {
        if (_transferHolds.Remove(lease.Hold))
        {
            _kv.Free(lease.Hold);
        }
        return true;
    }, CancellationToken.None);

    /// <summary>
    /// Checks an incoming prefix against this engine (hash version, block size, KV shape, token ids, and the hashes
    /// recomputed with this engine's model id and the salt; <see cref="InvalidDataException"/> if anything differs),
    /// then on the engine thread holds the leading blocks already cached and allocates fresh blocks for as many of the
    /// rest as the pool can give (possibly none). <paramref name="fence"/> runs on the engine thread afterwards.
    /// </summary>
    internal Task<KvBlockReservation> ReserveForImportAsync(int hashVersion, int blockSize, int layers, int kvHeads, int headDim,
        int[] tokens, ulong[] hashes, string? cacheSalt, Action? fence, CancellationToken cancellationToken)
    {
        CheckPrefix(hashVersion, blockSize, layers, kvHeads, headDim, tokens, hashes, cacheSalt);
        return Run(() =>
        {
            var hold = new BlockTable();
            var present = 0;
            var fresh = new List<int>();
            if (_kv.PrefixCaching)
            {
                while (present < hashes.Length && _kv.TryHoldCached(hold, hashes[present]))
                {
                    present++;
                }
                while (present + fresh.Count < hashes.Length && _kv.TryAppendBlock(hold, out var block))
                {
                    fresh.Add(block);
                }
            }
            else
            {
                EngineLog.ImportWithoutPrefixCache(_logger);
            }
            _transferHolds.Add(hold);
            fence?.Invoke();
            return new KvBlockReservation(present, [.. fresh], hashes, hold);
        }, cancellationToken);
    }

    /// <summary>
    /// Publishes the fresh blocks of <paramref name="reservation"/> (their bytes are in place) and drops the hold;
    /// returns the tokens of the prefix now cached here.
    /// </summary>
    internal Task<int> CommitImportAsync(KvBlockReservation reservation) => Run(() =>
    {
        if (reservation.Settled || !_transferHolds.Remove(reservation.Hold))
        {
            throw new InvalidOperationException("This KV reservation was already committed or abandoned.");
        }
        reservation.Settled = true;
        var end = reservation.Present + reservation.Fresh.Length;
        _kv.Publish(reservation.Hold, reservation.Present, end, reservation.Hashes);
        _kv.Free(reservation.Hold);
        EngineLog.Imported(_logger, reservation.Fresh.Length, reservation.Present, end * _kv.BlockSize);
        return end * _kv.BlockSize;
    }, CancellationToken.None);

    /// <summary>Returns the blocks of a reservation whose transfer failed (fresh blocks go back to the free list).</summary>
    internal Task AbandonImportAsync(KvBlockReservation reservation) => Run(() =>
    {
        if (!reservation.Settled && _transferHolds.Remove(reservation.Hold))
        {
            reservation.Settled = true;
            _kv.Free(reservation.Hold);
        }
        return true;
    }, CancellationToken.None);

    /// <summary>Refuses a prefix this engine cannot use (<see cref="InvalidDataException"/>).</summary>
    private void CheckPrefix(int hashVersion, int blockSize, int layers, int kvHeads, int headDim, int[] tokens, ulong[] hashes, string? cacheSalt)
    {
        var layout = _backend.Layout;
        if (hashVersion != BlockHasher.Version)
        {
            throw new InvalidDataException($"KV payload uses block hash version {hashVersion}; this engine uses {BlockHasher.Version}.");
        }
        if (blockSize != layout.BlockSize)
        {
            throw new InvalidDataException($"KV payload has blocks of {blockSize} tokens; this engine uses {layout.BlockSize}.");
        }
        if (layers != layout.NumLayers || kvHeads != layout.NumKvHeads || headDim != layout.HeadDim)
        {
            throw new InvalidDataException(
                $"KV payload shape (layers {layers}, KV heads {kvHeads}, head dim {headDim}) differs from this engine's " +
                $"(layers {layout.NumLayers}, KV heads {layout.NumKvHeads}, head dim {layout.HeadDim}).");
        }
        if (tokens.Length != hashes.Length * blockSize)
        {
            throw new InvalidDataException($"KV payload has {tokens.Length} token ids for {hashes.Length} blocks of {blockSize}.");
        }
        foreach (var t in tokens)
        {
            if ((uint)t >= (uint)_vocab)
            {
                throw new InvalidDataException($"KV payload token id {t} is outside the vocabulary [0, {_vocab}).");
            }
        }
        var expected = BlockHasher.HashBlocks(tokens, blockSize, BlockHasher.Root(Info.ModelId, cacheSalt));
        if (!expected.AsSpan().SequenceEqual(hashes))
        {
            throw new InvalidDataException($"KV payload block hashes do not match its token ids under model '{Info.ModelId}' and its cache salt (another model, or another salt).");
        }
    }
}
