using System.Globalization;

namespace OrleansInference.Native.Engine;

/// <summary>A parsed <see cref="EngineOptions.Device"/>: <c>cpu</c>, <c>cuda</c> (GPU 0) or <c>cuda:N</c>.</summary>
/// <param name="IsCuda">A GPU was asked for.</param>
/// <param name="Ordinal">The GPU's ordinal (0 for <c>cpu</c>).</param>
public readonly record struct EngineDevice(bool IsCuda, int Ordinal)
{
    /// <summary>Parses a device name (case and surrounding spaces ignored; null is <c>cpu</c>).</summary>
    /// <exception cref="ArgumentException">Anything else, with the accepted forms in the message.</exception>
    public static EngineDevice Parse(string? device)
    {
        var d = (device ?? "cpu").Trim().ToLowerInvariant();
        if (d == "cpu")
        {
            return new EngineDevice(false, 0);
        }
        if (d == "cuda")
        {
            return new EngineDevice(true, 0);
        }
        if (d.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal))
        {
            return new EngineDevice(true, ordinal);
        }
        throw new ArgumentException($"Unknown device '{device}': use cpu, cuda or cuda:N.", nameof(device));
    }
}
