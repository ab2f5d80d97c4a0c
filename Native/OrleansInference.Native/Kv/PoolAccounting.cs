namespace OrleansInference.Native.Kv;

/// <summary>
/// The result of checking the pool invariant: every block is exactly one of free, cached-unreferenced or referenced,
/// and each block's reference count equals the number of block-table entries that hold it.
/// </summary>
internal sealed record PoolAccounting(int Free, int CachedUnreferenced, int Referenced, IReadOnlyList<string> Violations)
{
    public bool IsClean => Violations.Count == 0;

    public override string ToString() =>
        $"free={Free} cached={CachedUnreferenced} referenced={Referenced}" +
        (IsClean ? "" : "; " + string.Join("; ", Violations.Take(10)));
}
