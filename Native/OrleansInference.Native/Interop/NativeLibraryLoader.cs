using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>Opens a native library by its versioned names and resolves its exports.</summary>
internal sealed class NativeLibraryLoader
{
    private NativeLibraryLoader(nint handle, string name)
    {
        Handle = handle;
        Name = name;
    }

    /// <summary>The dlopen handle (never closed: function pointers into it live as long as the process).</summary>
    public nint Handle { get; }

    /// <summary>The name that loaded.</summary>
    public string Name { get; }

    /// <summary>Loads the first of <paramref name="names"/> that opens; throws naming all tried when none does.</summary>
    public static NativeLibraryLoader Load(string what, params string[] names)
    {
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                return new NativeLibraryLoader(handle, name);
            }
        }

        // The toolkit's usual folder, when LD_LIBRARY_PATH does not name it.
        foreach (var name in names)
        {
            var path = Path.Combine("/usr/local/cuda/lib64", name);
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out var handle))
            {
                return new NativeLibraryLoader(handle, path);
            }
        }

        throw new CudaUnavailableException($"{what} is not available: none of {string.Join(", ", names)} could be loaded.");
    }

    /// <summary>The address of the first export found among <paramref name="symbols"/>.</summary>
    public nint Get(params string[] symbols)
    {
        foreach (var symbol in symbols)
        {
            if (NativeLibrary.TryGetExport(Handle, symbol, out var address))
            {
                return address;
            }
        }

        throw new CudaUnavailableException($"{Name} does not export {string.Join(" or ", symbols)}.");
    }

    /// <summary>The address of the export, or zero.</summary>
    public nint TryGet(string symbol) => NativeLibrary.TryGetExport(Handle, symbol, out var address) ? address : 0;
}
