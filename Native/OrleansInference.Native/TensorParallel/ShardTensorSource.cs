using OrleansInference.Native.Models;

namespace OrleansInference.Native.TensorParallel;

/// <summary>One rank's tensors: replicated ones passed through, split ones sliced from the full tensor when read.</summary>
internal sealed class ShardTensorSource(ITensorSource full, TensorParallelPlan plan, int rank) : ITensorSource
{
    public IEnumerable<string> Names => full.Names;

    public ITensor? TryGet(string name)
    {
        var tensor = full.TryGet(name);
        if (tensor is null)
        {
            return null;
        }

        var split = plan.SplitOf(name);
        return split.Kind == SplitKind.Whole ? tensor : new ShardTensor(tensor, split, rank, plan.Ranks);
    }

    /// <summary>The full source belongs to the full model.</summary>
    public void Dispose()
    {
    }
}

/// <summary>A rank's slice of a stored tensor, as a tensor of its own.</summary>
internal sealed class ShardTensor : ITensor
{
    private readonly ITensor _full;
    private readonly TensorSplit _split;
    private readonly int _rank;
    private readonly long _outer;
    private readonly long _inner;

    public ShardTensor(ITensor full, TensorSplit split, int rank, int ranks)
    {
        _full = full;
        _split = split;
        _rank = rank;
        var shape = full.Shape.ToArray();
        int axis = split.Kind == SplitKind.Columns ? shape.Length - 1 : 0;
        if (split.Kind is SplitKind.Rows or SplitKind.Columns)
        {
            if (shape.Length == 0 || shape[axis] != (long)split.Size * ranks)
            {
                throw new ModelLoadException(
                    $"{full.Origin}: tensor '{full.Name}' has shape [{string.Join(", ", shape)}]; splitting it over {ranks} ranks needs {(long)split.Size * ranks} along dimension {axis}.");
            }

            shape[axis] = split.Size;
        }

        Shape = shape;
        ElementCount = shape.Aggregate(1L, (a, b) => a * b);

        // Viewed as [outer, inner] of the full tensor, a rank's part is columns [rank·inner/ranks, ...) of each outer row.
        _outer = split.Kind == SplitKind.Columns ? ElementCount / split.Size : 1;
        _inner = full.ElementCount / _outer;
    }

    public string Name => _full.Name;

    public DType DType => _full.DType;

    public IReadOnlyList<long> Shape { get; }

    public string Origin => _full.Origin;

    public long ElementCount { get; }

    public void CopyToFloat32(Span<float> destination) => Copy<float>(destination, _full.CopyToFloat32);

    public void CopyToBFloat16(Span<ushort> destination) => Copy<ushort>(destination, _full.CopyToBFloat16);

    private delegate void FullCopy<T>(Span<T> destination);

    private void Copy<T>(Span<T> destination, FullCopy<T> copyFull)
        where T : unmanaged
    {
        if (destination.Length != ElementCount)
        {
            throw new ArgumentException($"{Origin}: tensor '{Name}' (rank {_rank}'s part) has {ElementCount} elements; destination has {destination.Length}.");
        }

        if (_split.Kind == SplitKind.FirstRankOnly)
        {
            if (_rank == 0)
            {
                copyFull(destination);
            }
            else
            {
                destination.Clear();
            }

            return;
        }

        // The stored tensor can only be read whole (it may need conversion), so read it once and keep this rank's part.
        var whole = GC.AllocateUninitializedArray<T>(checked((int)_full.ElementCount));
        copyFull(whole);
        long part = ElementCount / _outer;
        for (long o = 0; o < _outer; o++)
        {
            whole.AsSpan(checked((int)((o * _inner) + (_rank * part))), (int)part).CopyTo(destination.Slice((int)(o * part), (int)part));
        }
    }
}
