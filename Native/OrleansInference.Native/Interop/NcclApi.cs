using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>The 128-byte <c>ncclUniqueId</c>, passed by value; the control plane carries its bytes between ranks.</summary>
[StructLayout(LayoutKind.Sequential, Size = 128)]
public unsafe struct NcclUniqueId
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 128;

    private fixed byte _bytes[Size];

    /// <summary>The id's bytes.</summary>
    public readonly byte[] ToArray()
    {
        var result = new byte[Size];
        fixed (byte* p = _bytes)
        {
            new ReadOnlySpan<byte>(p, Size).CopyTo(result);
        }

        return result;
    }

    /// <summary>Rebuilds an id from the bytes another rank sent.</summary>
    public static NcclUniqueId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
        {
            throw new ArgumentException($"An NCCL unique id has {Size} bytes, not {bytes.Length}.", nameof(bytes));
        }

        var id = default(NcclUniqueId);
        bytes.CopyTo(new Span<byte>(id._bytes, Size));
        return id;
    }
}

/// <summary>NCCL (libnccl.so.2): communicators, point-to-point and collectives on streams.</summary>
internal sealed unsafe class NcclApi
{
    public const int Int8 = 0;
    public const int Float32 = 7;
    public const int BFloat16 = 9;
    public const int Sum = 0;

    /// <summary><c>ncclInProgress</c>: a non-blocking communicator is still working on the call.</summary>
    public const int InProgress = 7;

    /// <summary><c>ncclRemoteError</c>: a peer failed or went away.</summary>
    public const int RemoteError = 6;

    public readonly delegate* unmanaged<NcclUniqueId*, int> ncclGetUniqueId;
    public readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, int> ncclCommInitRank;
    public readonly delegate* unmanaged<nint, int> ncclCommDestroy;
    public readonly delegate* unmanaged<int> ncclGroupStart;
    public readonly delegate* unmanaged<int> ncclGroupEnd;
    public readonly delegate* unmanaged<ulong, nuint, int, int, nint, nint, int> ncclSend;
    public readonly delegate* unmanaged<ulong, nuint, int, int, nint, nint, int> ncclRecv;
    public readonly delegate* unmanaged<ulong, ulong, nuint, int, int, nint, nint, int> ncclAllReduce;
    public readonly delegate* unmanaged<nint, int*, int> ncclCommCount;
    public readonly delegate* unmanaged<int*, int> ncclGetVersion;
    public readonly delegate* unmanaged<nint*, int, NcclUniqueId, int, NcclConfig*, int> ncclCommInitRankConfig;
    public readonly delegate* unmanaged<nint, int*, int> ncclCommGetAsyncError;
    public readonly delegate* unmanaged<nint, int> ncclCommAbort;
    private readonly delegate* unmanaged<int, byte*> _errorString;

    private NcclApi(NativeLibraryLoader lib)
    {
        Library = lib.Name;
        ncclGetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)lib.Get("ncclGetUniqueId");
        ncclCommInitRank = (delegate* unmanaged<nint*, int, NcclUniqueId, int, int>)lib.Get("ncclCommInitRank");
        ncclCommDestroy = (delegate* unmanaged<nint, int>)lib.Get("ncclCommDestroy");
        ncclGroupStart = (delegate* unmanaged<int>)lib.Get("ncclGroupStart");
        ncclGroupEnd = (delegate* unmanaged<int>)lib.Get("ncclGroupEnd");
        ncclSend = (delegate* unmanaged<ulong, nuint, int, int, nint, nint, int>)lib.Get("ncclSend");
        ncclRecv = (delegate* unmanaged<ulong, nuint, int, int, nint, nint, int>)lib.Get("ncclRecv");
        ncclAllReduce = (delegate* unmanaged<ulong, ulong, nuint, int, int, nint, nint, int>)lib.Get("ncclAllReduce");
        ncclCommCount = (delegate* unmanaged<nint, int*, int>)lib.Get("ncclCommCount");
        ncclGetVersion = (delegate* unmanaged<int*, int>)lib.Get("ncclGetVersion");
        ncclCommInitRankConfig = (delegate* unmanaged<nint*, int, NcclUniqueId, int, NcclConfig*, int>)lib.Get("ncclCommInitRankConfig");
        ncclCommGetAsyncError = (delegate* unmanaged<nint, int*, int>)lib.Get("ncclCommGetAsyncError");
        ncclCommAbort = (delegate* unmanaged<nint, int>)lib.Get("ncclCommAbort");
        _errorString = (delegate* unmanaged<int, byte*>)lib.Get("ncclGetErrorString");
    }

    public string Library { get; }

    public static NcclApi Load() => new(NativeLibraryLoader.Load("NCCL", "libnccl.so.2", "libnccl.so"));

    public int Version()
    {
        int v;
        Check(ncclGetVersion(&v), "ncclGetVersion");
        return v;
    }

    public void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new CudaException(call, result, ErrorString(result), null);
        }
    }

    /// <summary>NCCL's text for a status, e.g. "remote process exited or there was a network error".</summary>
    public string ErrorString(int result) => Marshal.PtrToStringUTF8((nint)_errorString(result)) ?? "NCCL error";
}

/// <summary>
/// The leading fields of <c>ncclConfig_t</c> as NCCL 2.17 defined them. NCCL copies only <see cref="Size"/> bytes and
/// gives every later field its default, so this stays valid for newer libraries without their headers.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclConfig
{
    public nuint Size;
    public uint Magic;
    public uint Version;
    public int Blocking;
    public int CgaClusterSize;
    public int MinCtas;
    public int MaxCtas;
    public nint NetName;

    /// <summary>NCCL_CONFIG_INITIALIZER with <c>blocking</c> set as asked (every other field "undefined": NCCL's default).</summary>
    public static unsafe NcclConfig Create(bool blocking) => new()
    {
        Size = (nuint)sizeof(NcclConfig),
        Magic = 0xcafebeef,
        Version = 21700, // NCCL_VERSION(2, 17, 0)
        Blocking = blocking ? 1 : 0,
        CgaClusterSize = int.MinValue,
        MinCtas = int.MinValue,
        MaxCtas = int.MinValue,
        NetName = 0,
    };
}
