using Orleans.Runtime;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// A worker grain's key, <c>{silo}|{model}|{index}</c>: the silo (parsable form) that owns the engine, the served
/// model and the engine's index on that silo. The placement director reads the silo from it.
/// </summary>
public readonly record struct WorkerKey(SiloAddress Silo, string Model, int Index)
{
    private const char Separator = '|';

    /// <summary>The grain key.</summary>
    public override string ToString() => $"{Silo.ToParsableString()}{Separator}{Model}{Separator}{Index}";

    /// <summary>Parses a key made by <see cref="ToString"/>; the model may itself contain the separator.</summary>
    public static bool TryParse(string key, out WorkerKey result)
    {
        result = default;
        var first = key.IndexOf(Separator);
        var last = key.LastIndexOf(Separator);
        if (first <= 0 || last <= first || !int.TryParse(key.AsSpan(last + 1), out var index))
        {
            return false;
        }
        SiloAddress silo;
        try
        {
            silo = SiloAddress.FromParsableString(key[..first]);
        }
        catch (FormatException)
        {
            return false;
        }
        result = new WorkerKey(silo, key[(first + 1)..last], index);
        return true;
    }

    /// <summary>Parses a key or throws <see cref="ArgumentException"/>.</summary>
    public static WorkerKey Parse(string key) =>
        TryParse(key, out var k) ? k : throw new ArgumentException($"'{key}' is not a worker key ({{silo}}|{{model}}|{{index}}).", nameof(key));
}
