using System.Security.Cryptography;
using System.Text;

namespace OrleansInference.Native.Interop;

/// <summary>
/// Compiles CUDA source with NVRTC for the device's architecture and keeps the CUBIN on disk, keyed by a hash of
/// (source, options, architecture, NVRTC version), so later processes load it without compiling.
/// </summary>
internal sealed class KernelCompiler
{
    private readonly NvrtcApi _nvrtc;
    private readonly string? _cacheDirectory;

    /// <param name="nvrtc">The compiler.</param>
    /// <param name="cacheDirectory">Where CUBINs are kept; null disables the cache.</param>
    public KernelCompiler(NvrtcApi nvrtc, string? cacheDirectory)
    {
        _nvrtc = nvrtc;
        _cacheDirectory = cacheDirectory;
    }

    /// <summary>The default cache folder: <c>~/.cache/orleans-inference/kernels</c>.</summary>
    public static string DefaultCacheDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "orleans-inference", "kernels");

    /// <summary>Whether the last <see cref="Compile"/> was served from the cache.</summary>
    public bool LastWasCached { get; private set; }

    /// <summary>A CUBIN for <paramref name="architecture"/> (e.g. <c>sm_90</c>).</summary>
    public byte[] Compile(string source, string name, string architecture, IReadOnlyList<string> extraOptions)
    {
        var options = new List<string> { $"-arch={architecture}", "-std=c++17", "--fmad=true" };
        options.AddRange(extraOptions);
        string key = Key(source, options);
        string? path = _cacheDirectory is null ? null : Path.Combine(_cacheDirectory, $"{name}-{architecture}-{key}.cubin");
        if (path is not null && File.Exists(path))
        {
            try
            {
                var cached = File.ReadAllBytes(path);
                if (cached.Length > 0)
                {
                    LastWasCached = true;
                    return cached;
                }
            }
            catch (IOException)
            {
                // An unreadable entry is rebuilt below.
            }
        }

        LastWasCached = false;
        var image = _nvrtc.Compile(source, name + ".cu", options, cubin: true);
        if (path is not null)
        {
            try
            {
                Directory.CreateDirectory(_cacheDirectory!);
                string temp = path + "." + Environment.ProcessId + ".tmp";
                File.WriteAllBytes(temp, image);
                File.Move(temp, path, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only home still runs; it compiles again next time.
            }
        }

        return image;
    }

    private string Key(string source, IReadOnlyList<string> options)
    {
        var text = $"{_nvrtc.Version}\n{string.Join(' ', options)}\n{source}";
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24].ToLowerInvariant();
    }
}
