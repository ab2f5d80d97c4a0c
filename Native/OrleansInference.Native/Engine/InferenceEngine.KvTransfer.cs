using OrleansInference.Native.Kv;

namespace OrleansInference.Native.Engine;

// Moving cached prefixes between engines (disaggregated prefill, warm-up of a new worker).
public sealed partial class InferenceEngine
{
    /// <inheritdoc />
    public Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        CheckIds(tokenIds, "token_ids");
        var tokens = tokenIds.ToArray();
        return Run(() => Export(tokens, cacheSalt), cancellationToken);
    }

    /// <inheritdoc />
    public Task<int> ImportKvAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var p = KvTransferFormat.Read(payload);
        var data = CheckCompatible(p);
        return Run(() => Install(p, data), cancellationToken);
    }

    private byte[]? Export(int[] tokens, string? cacheSalt)
    {
        var bs = _kv.BlockSize;
        var hashes = BlockHasher.HashBlocks(tokens, bs, BlockHasher.Root(Info.ModelId, cacheSalt));
        var n = _kv.CountCachedPrefix(hashes);
        if (n == 0)
        {
            return null;
        }
        var blocks = new int[n];
        for (var i = 0; i < n; i++)
        {
            _kv.Cache.TryGet(hashes[i], out blocks[i]);
        }
        var layout = _backend.Layout;
        var header = new KvPayload(Info.ModelId, cacheSalt, bs, BlockHasher.Version, layout.NumLayers, layout.NumKvHeads,
            layout.HeadDim, layout.ElementType, tokens[..(n * bs)], hashes[..n], ReadOnlyMemory<byte>.Empty);
        return KvTransferFormat.Write(header, (i, destination) => _backend.ReadBlock(blocks[i], destination));
    }

    /// <summary>Refuses a payload this engine cannot use; returns its block bytes in this backend's element type.</summary>
    private ReadOnlyMemory<byte> CheckCompatible(KvPayload p)
    {
        var layout = _backend.Layout;
        if (p.ModelId != Info.ModelId)
        {
            throw new InvalidDataException($"KV payload is for model '{p.ModelId}'; this engine serves '{Info.ModelId}'.");
        }
        CheckPrefix(p.HashVersion, p.BlockSize, p.NumLayers, p.NumKvHeads, p.HeadDim, p.TokenIds, p.BlockHashes, p.CacheSalt);
        if (p.ElementType == layout.ElementType)
        {
            return p.BlockData;
        }
        var local = new byte[checked(layout.BlockBytes * p.NumBlocks)];
        for (var i = 0; i < p.NumBlocks; i++)
        {
            KvElementConversion.Convert(p.Block(i), p.ElementType, local.AsSpan((int)(i * layout.BlockBytes), (int)layout.BlockBytes), layout.ElementType);
        }
        return local;
    }

    private int Install(KvPayload p, ReadOnlyMemory<byte> data)
    {
        if (!_kv.PrefixCaching)
        {
            EngineLog.ImportWithoutPrefixCache(_logger);
            return 0;
        }
        var blockBytes = (int)_backend.Layout.BlockBytes;
        // Every block of the prefix is held until the end, so allocating later blocks cannot evict earlier ones.
        var hold = new BlockTable();
        int present = 0, installed = 0;
        try
        {
            for (var i = 0; i < p.NumBlocks; i++)
            {
                if (_kv.TryHoldCached(hold, p.BlockHashes[i]))
                {
                    present++;
                    continue;
                }
                if (!_kv.TryAppendBlock(hold, out var block))
                {
                    break;
                }
                _backend.WriteBlock(block, data.Span.Slice(i * blockBytes, blockBytes));
                _kv.Publish(hold, i, i + 1, p.BlockHashes);
                installed++;
            }
        }
        finally
        {
            _kv.Free(hold);
        }
        var tokens = (present + installed) * _kv.BlockSize;
        EngineLog.Imported(_logger, installed, present, tokens);
        return tokens;
    }

    /// <summary>Runs work on the engine thread; a stopped engine answers <see cref="EngineErrorKind.Unavailable"/>.</summary>
    private Task<T> Run<T>(Func<T> work, CancellationToken cancellationToken)
    {
        var command = new WorkCommand<T>(work, cancellationToken);
        return Post(command)
            ? command.Task
            : Task.FromException<T>(new EngineRequestException(EngineErrorKind.Unavailable, "The engine is stopped."));
    }
}
