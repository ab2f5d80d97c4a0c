using System.Globalization;

namespace OrleansInference.Native.Engine;

/// <summary>
/// A parsed <see cref="EngineOptions.Device"/>: <c>cpu</c>, <c>cuda</c> (GPU 0), <c>cuda:N</c>, or <c>cuda:N,M,...</c>
/// (one GPU per tensor-parallel rank).
/// </summary>
/// <param name="IsCuda">A GPU was asked for.</param>
/// <param name="Ordinal">The (first) GPU's ordinal (0 for <c>cpu</c>).</param>
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
        if (CudaList(d) is { } ordinals)
        {
            return new EngineDevice(true, ordinals[0]);
        }
        throw new ArgumentException($"Unknown device '{device}': use cpu, cuda, cuda:N or cuda:N,M,...", nameof(device));
    }

    /// <summary>The GPUs of a lower-cased <c>cuda:N[,M,...]</c> name, or null when it is not one.</summary>
    internal static int[]? CudaList(string device)
    {
        if (!device.StartsWith("cuda:", StringComparison.Ordinal))
        {
            return null;
        }
        var parts = device[5..].Split(',');
        var ordinals = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ordinals[i]))
            {
                return null;
            }
        }
        return ordinals;
    }
}
