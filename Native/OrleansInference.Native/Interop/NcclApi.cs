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
            throw new CudaException(call, result, Marshal.PtrToStringUTF8((nint)_errorString(result)) ?? "NCCL error", null);
        }
    }
}
