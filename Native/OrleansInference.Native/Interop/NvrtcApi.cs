using System.Runtime.InteropServices;
using System.Text;

namespace OrleansInference.Native.Interop;

/// <summary>NVRTC (libnvrtc.so.13, else .12): compiles CUDA C++ source to CUBIN or PTX at run time.</summary>
internal sealed unsafe class NvrtcApi
{
    private readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> _create;
    private readonly delegate* unmanaged<nint, int, byte**, int> _compile;
    private readonly delegate* unmanaged<nint*, int> _destroy;
    private readonly delegate* unmanaged<nint, nuint*, int> _logSize;
    private readonly delegate* unmanaged<nint, byte*, int> _log;
    private readonly delegate* unmanaged<nint, nuint*, int> _cubinSize;
    private readonly delegate* unmanaged<nint, byte*, int> _cubin;
    private readonly delegate* unmanaged<nint, nuint*, int> _ptxSize;
    private readonly delegate* unmanaged<nint, byte*, int> _ptx;
    private readonly delegate* unmanaged<int, byte*> _errorString;
    private readonly delegate* unmanaged<int*, int*, int> _version;

    private NvrtcApi(NativeLibraryLoader lib)
    {
        Library = lib.Name;
        _create = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)lib.Get("nvrtcCreateProgram");
        _compile = (delegate* unmanaged<nint, int, byte**, int>)lib.Get("nvrtcCompileProgram");
        _destroy = (delegate* unmanaged<nint*, int>)lib.Get("nvrtcDestroyProgram");
        _logSize = (delegate* unmanaged<nint, nuint*, int>)lib.Get("nvrtcGetProgramLogSize");
        _log = (delegate* unmanaged<nint, byte*, int>)lib.Get("nvrtcGetProgramLog");
        _cubinSize = (delegate* unmanaged<nint, nuint*, int>)lib.Get("nvrtcGetCUBINSize");
        _cubin = (delegate* unmanaged<nint, byte*, int>)lib.Get("nvrtcGetCUBIN");
        _ptxSize = (delegate* unmanaged<nint, nuint*, int>)lib.Get("nvrtcGetPTXSize");
        _ptx = (delegate* unmanaged<nint, byte*, int>)lib.Get("nvrtcGetPTX");
        _errorString = (delegate* unmanaged<int, byte*>)lib.Get("nvrtcGetErrorString");
        _version = (delegate* unmanaged<int*, int*, int>)lib.Get("nvrtcVersion");
        int major, minor;
        Check(_version(&major, &minor), "nvrtcVersion");
        Version = new Version(major, minor);
    }

    public string Library { get; }

    public Version Version { get; }

    public static NvrtcApi Load() =>
        new(NativeLibraryLoader.Load("NVRTC", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"));

    /// <summary>
    /// Compiles <paramref name="source"/>; returns a CUBIN when an <c>-arch=sm_XX</c> option is given, else PTX.
    /// A compile error throws with the compiler's log.
    /// </summary>
    public byte[] Compile(string source, string name, IReadOnlyList<string> options, bool cubin)
    {
        nint program;
        var src = Encoding.UTF8.GetBytes(source + "\0");
        var nm = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* s = src, n = nm)
        {
            Check(_create(&program, s, n, 0, null, null), "nvrtcCreateProgram");
        }

        try
        {
            var handles = options.Select(o => GCHandle.Alloc(Encoding.UTF8.GetBytes(o + "\0"), GCHandleType.Pinned)).ToArray();
            try
            {
                byte** opts = stackalloc byte*[handles.Length];
                for (int i = 0; i < handles.Length; i++)
                {
                    opts[i] = (byte*)handles[i].AddrOfPinnedObject();
                }

                int r = _compile(program, handles.Length, opts);
                if (r != 0)
                {
                    throw new CudaException("nvrtcCompileProgram", r, ErrorString(r), $"{name} with [{string.Join(' ', options)}]:\n{Log(program)}");
                }
            }
            finally
            {
                foreach (var h in handles)
                {
                    h.Free();
                }
            }

            nuint size;
            Check(cubin ? _cubinSize(program, &size) : _ptxSize(program, &size), cubin ? "nvrtcGetCUBINSize" : "nvrtcGetPTXSize");
            var image = new byte[(int)size];
            fixed (byte* p = image)
            {
                Check(cubin ? _cubin(program, p) : _ptx(program, p), cubin ? "nvrtcGetCUBIN" : "nvrtcGetPTX");
            }

            return image;
        }
        finally
        {
            _destroy(&program);
        }
    }

    private string Log(nint program)
    {
        nuint size;
        if (_logSize(program, &size) != 0 || size <= 1)
        {
            return "";
        }

        var buffer = new byte[(int)size];
        fixed (byte* p = buffer)
        {
            _log(program, p);
        }

        return Encoding.UTF8.GetString(buffer, 0, buffer.Length - 1);
    }

    private string ErrorString(int result) => Marshal.PtrToStringUTF8((nint)_errorString(result)) ?? "NVRTC_ERROR";

    private void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new CudaException(call, result, ErrorString(result), null);
        }
    }
}
