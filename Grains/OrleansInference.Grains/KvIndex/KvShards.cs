namespace OrleansInference.Grains.KvIndex;

/// <summary>How block hashes map to index shards (<c>{model}/{shard}</c>, shard = hash mod N).</summary>
internal static class KvShards
{
    public static int ShardOf(ulong hash, int shards) => (int)(hash % (ulong)shards);

    public static string Key(string model, int shard) => $"{model}/{shard}";

    /// <summary>Parses <c>{model}/{shard}</c> (the model may contain '/').</summary>
    public static (string Model, int Shard) Parse(string key)
    {
        var slash = key.LastIndexOf('/');
        if (slash <= 0 || !int.TryParse(key.AsSpan(slash + 1), out var shard) || shard < 0)
        {
            throw new ArgumentException($"'{key}' is not a KV index shard key ({{model}}/{{shard}}).", nameof(key));
        }
        return (key[..slash], shard);
    }
}
