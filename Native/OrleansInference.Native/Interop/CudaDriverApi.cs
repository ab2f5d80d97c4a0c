using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>Device attributes read through <c>cuDeviceGetAttribute</c>.</summary>
internal enum CuDeviceAttribute
{
    MaxSharedMemoryPerBlock = 8,
    MultiprocessorCount = 16,
    L2CacheSize = 38,
    ComputeCapabilityMajor = 75,
    ComputeCapabilityMinor = 76,
    MaxSharedMemoryPerBlockOptin = 97,
}

/// <summary><c>CUlaunchConfig</c> for <c>cuLaunchKernelEx</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CuLaunchConfig
{
    public uint GridX, GridY, GridZ, BlockX, BlockY, BlockZ, SharedBytes;
    public nint Stream;
    public CuLaunchAttribute* Attributes;
    public uint AttributeCount;
}

/// <summary><c>CUlaunchAttribute</c>: an id, padding, and a 64-byte value union (only its first int is used here).</summary>
[StructLayout(LayoutKind.Sequential, Size = 72)]
internal struct CuLaunchAttribute
{
    public const int Cooperative = 2;
    public const int ProgrammaticStreamSerialization = 6;
    public int Id;
    public int Pad;
    public int Value;
}

/// <summary>
/// The CUDA driver API (libcuda.so.1) as function pointers resolved by their versioned export names, so the
/// binding does not depend on CUDA headers or on the toolkit's version macros. Every call goes through
/// <see cref="Check"/>, which turns a failed status into a <see cref="CudaException"/> naming the call.
/// </summary>
internal sealed unsafe class CudaDriverApi
{
    public const int StreamNonBlocking = 1;
    public const int EventDisableTiming = 2;
    public const int CaptureModeThreadLocal = 1;
    public const int FuncAttributeMaxDynamicSharedSizeBytes = 8;

    /// <summary>CU_FUNC_ATTRIBUTE_NUM_REGS: registers per thread.</summary>
    public const int FuncAttributeNumRegs = 4;

    /// <summary>CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: local memory per thread (register spills among it).</summary>
    public const int FuncAttributeLocalSizeBytes = 3;

    public readonly delegate* unmanaged<uint, int> cuInit;
    public readonly delegate* unmanaged<int*, int> cuDriverGetVersion;
    public readonly delegate* unmanaged<int*, int> cuDeviceGetCount;
    public readonly delegate* unmanaged<int*, int, int> cuDeviceGet;
    public readonly delegate* unmanaged<int*, int, int, int> cuDeviceGetAttribute;
    public readonly delegate* unmanaged<byte*, int, int, int> cuDeviceGetName;
    public readonly delegate* unmanaged<nuint*, int, int> cuDeviceTotalMem;
    public readonly delegate* unmanaged<nint*, int, int> cuDevicePrimaryCtxRetain;
    public readonly delegate* unmanaged<int, int> cuDevicePrimaryCtxRelease;
    public readonly delegate* unmanaged<nint, int> cuCtxSetCurrent;
    public readonly delegate* unmanaged<int> cuCtxSynchronize;
    public readonly delegate* unmanaged<nuint*, nuint*, int> cuMemGetInfo;
    public readonly delegate* unmanaged<ulong*, nuint, int> cuMemAlloc;
    public readonly delegate* unmanaged<ulong, int> cuMemFree;
    public readonly delegate* unmanaged<void**, nuint, uint, int> cuMemHostAlloc;
    public readonly delegate* unmanaged<void*, int> cuMemFreeHost;
    public readonly delegate* unmanaged<ulong, void*, nuint, nint, int> cuMemcpyHtoDAsync;
    public readonly delegate* unmanaged<void*, ulong, nuint, nint, int> cuMemcpyDtoHAsync;
    public readonly delegate* unmanaged<ulong, ulong, nuint, nint, int> cuMemcpyDtoDAsync;
    public readonly delegate* unmanaged<ulong, byte, nuint, nint, int> cuMemsetD8Async;
    public readonly delegate* unmanaged<ulong, uint, nuint, nint, int> cuMemsetD32Async;
    public readonly delegate* unmanaged<nint*, uint, int> cuStreamCreate;
    public readonly delegate* unmanaged<nint, int> cuStreamDestroy;
    public readonly delegate* unmanaged<nint, int> cuStreamSynchronize;
    public readonly delegate* unmanaged<nint*, uint, int> cuEventCreate;
    public readonly delegate* unmanaged<nint, int> cuEventDestroy;
    public readonly delegate* unmanaged<nint, nint, int> cuEventRecord;
    public readonly delegate* unmanaged<nint, int> cuEventSynchronize;
    public readonly delegate* unmanaged<float*, nint, nint, int> cuEventElapsedTime;
    public readonly delegate* unmanaged<nint*, void*, int> cuModuleLoadData;
    public readonly delegate* unmanaged<nint, int> cuModuleUnload;
    public readonly delegate* unmanaged<nint*, nint, byte*, int> cuModuleGetFunction;
    public readonly delegate* unmanaged<nint, int, int, int> cuFuncSetAttribute;
    public readonly delegate* unmanaged<int*, int, nint, int> cuFuncGetAttribute;
    public readonly delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> cuLaunchKernel;
    public readonly delegate* unmanaged<nint, int, int> cuStreamBeginCapture;
    public readonly delegate* unmanaged<nint, nint*, int> cuStreamEndCapture;
    public readonly delegate* unmanaged<nint*, nint, ulong, int> cuGraphInstantiateWithFlags;
    public readonly delegate* unmanaged<nint, nint, int> cuGraphLaunch;
    public readonly delegate* unmanaged<nint, int> cuGraphExecDestroy;
    public readonly delegate* unmanaged<nint, int> cuGraphDestroy;
    public readonly delegate* unmanaged<int, byte**, int> cuGetErrorName;
    public readonly delegate* unmanaged<int, byte**, int> cuGetErrorString;
    public readonly delegate* unmanaged<CuLaunchConfig*, nint, void**, void**, int> cuLaunchKernelEx;
    public readonly delegate* unmanaged<int*, nint, int, nuint, int> cuOccupancyMaxActiveBlocksPerMultiprocessor;
    public readonly delegate* unmanaged<int> cuProfilerStart;
    public readonly delegate* unmanaged<int> cuProfilerStop;
    public readonly delegate* unmanaged<nint, int> cuStreamQuery;
    public readonly delegate* unmanaged<ulong, nint, ulong, nint, nuint, nint, int> cuMemcpyPeerAsync;
    public readonly delegate* unmanaged<nint, uint, int> cuCtxEnablePeerAccess;
    public readonly delegate* unmanaged<int*, int, int, int> cuDeviceCanAccessPeer;

    private CudaDriverApi(NativeLibraryLoader lib)
    {
        Library = lib.Name;
        cuInit = (delegate* unmanaged<uint, int>)lib.Get("cuInit");
        cuDriverGetVersion = (delegate* unmanaged<int*, int>)lib.Get("cuDriverGetVersion");
        cuDeviceGetCount = (delegate* unmanaged<int*, int>)lib.Get("cuDeviceGetCount");
        cuDeviceGet = (delegate* unmanaged<int*, int, int>)lib.Get("cuDeviceGet");
        cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)lib.Get("cuDeviceGetAttribute");
        cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)lib.Get("cuDeviceGetName");
        cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)lib.Get("cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)lib.Get("cuDevicePrimaryCtxRetain");
        cuDevicePrimaryCtxRelease = (delegate* unmanaged<int, int>)lib.Get("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease");
        cuCtxSetCurrent = (delegate* unmanaged<nint, int>)lib.Get("cuCtxSetCurrent");
        cuCtxSynchronize = (delegate* unmanaged<int>)lib.Get("cuCtxSynchronize");
        cuMemGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)lib.Get("cuMemGetInfo_v2");
        cuMemAlloc = (delegate* unmanaged<ulong*, nuint, int>)lib.Get("cuMemAlloc_v2");
        cuMemFree = (delegate* unmanaged<ulong, int>)lib.Get("cuMemFree_v2");
        cuMemHostAlloc = (delegate* unmanaged<void**, nuint, uint, int>)lib.Get("cuMemHostAlloc");
        cuMemFreeHost = (delegate* unmanaged<void*, int>)lib.Get("cuMemFreeHost");
        cuMemcpyHtoDAsync = (delegate* unmanaged<ulong, void*, nuint, nint, int>)lib.Get("cuMemcpyHtoDAsync_v2");
        cuMemcpyDtoHAsync = (delegate* unmanaged<void*, ulong, nuint, nint, int>)lib.Get("cuMemcpyDtoHAsync_v2");
        cuMemcpyDtoDAsync = (delegate* unmanaged<ulong, ulong, nuint, nint, int>)lib.Get("cuMemcpyDtoDAsync_v2");
        cuMemsetD8Async = (delegate* unmanaged<ulong, byte, nuint, nint, int>)lib.Get("cuMemsetD8Async");
        cuMemsetD32Async = (delegate* unmanaged<ulong, uint, nuint, nint, int>)lib.Get("cuMemsetD32Async");
        cuStreamCreate = (delegate* unmanaged<nint*, uint, int>)lib.Get("cuStreamCreate");
        cuStreamDestroy = (delegate* unmanaged<nint, int>)lib.Get("cuStreamDestroy_v2");
        cuStreamSynchronize = (delegate* unmanaged<nint, int>)lib.Get("cuStreamSynchronize");
        cuEventCreate = (delegate* unmanaged<nint*, uint, int>)lib.Get("cuEventCreate");
        cuEventDestroy = (delegate* unmanaged<nint, int>)lib.Get("cuEventDestroy_v2");
        cuEventRecord = (delegate* unmanaged<nint, nint, int>)lib.Get("cuEventRecord");
        cuEventSynchronize = (delegate* unmanaged<nint, int>)lib.Get("cuEventSynchronize");
        cuEventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)lib.Get("cuEventElapsedTime_v2", "cuEventElapsedTime");
        cuModuleLoadData = (delegate* unmanaged<nint*, void*, int>)lib.Get("cuModuleLoadData");
        cuModuleUnload = (delegate* unmanaged<nint, int>)lib.Get("cuModuleUnload");
        cuModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)lib.Get("cuModuleGetFunction");
        cuFuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)lib.Get("cuFuncSetAttribute");
        cuFuncGetAttribute = (delegate* unmanaged<int*, int, nint, int>)lib.Get("cuFuncGetAttribute");
        cuLaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)lib.Get("cuLaunchKernel");
        cuStreamBeginCapture = (delegate* unmanaged<nint, int, int>)lib.Get("cuStreamBeginCapture_v2");
        cuStreamEndCapture = (delegate* unmanaged<nint, nint*, int>)lib.Get("cuStreamEndCapture");
        cuGraphInstantiateWithFlags = (delegate* unmanaged<nint*, nint, ulong, int>)lib.Get("cuGraphInstantiateWithFlags");
        cuGraphLaunch = (delegate* unmanaged<nint, nint, int>)lib.Get("cuGraphLaunch");
        cuGraphExecDestroy = (delegate* unmanaged<nint, int>)lib.Get("cuGraphExecDestroy");
        cuGraphDestroy = (delegate* unmanaged<nint, int>)lib.Get("cuGraphDestroy");
        cuGetErrorName = (delegate* unmanaged<int, byte**, int>)lib.Get("cuGetErrorName");
        cuGetErrorString = (delegate* unmanaged<int, byte**, int>)lib.Get("cuGetErrorString");
        cuLaunchKernelEx = (delegate* unmanaged<CuLaunchConfig*, nint, void**, void**, int>)lib.TryGet("cuLaunchKernelEx");
        cuOccupancyMaxActiveBlocksPerMultiprocessor = (delegate* unmanaged<int*, nint, int, nuint, int>)lib.Get("cuOccupancyMaxActiveBlocksPerMultiprocessor");
        cuProfilerStart = (delegate* unmanaged<int>)lib.Get("cuProfilerStart");
        cuProfilerStop = (delegate* unmanaged<int>)lib.Get("cuProfilerStop");
        cuStreamQuery = (delegate* unmanaged<nint, int>)lib.Get("cuStreamQuery");
        cuMemcpyPeerAsync = (delegate* unmanaged<ulong, nint, ulong, nint, nuint, nint, int>)lib.Get("cuMemcpyPeerAsync");
        cuCtxEnablePeerAccess = (delegate* unmanaged<nint, uint, int>)lib.Get("cuCtxEnablePeerAccess");
        cuDeviceCanAccessPeer = (delegate* unmanaged<int*, int, int, int>)lib.Get("cuDeviceCanAccessPeer");
    }

    /// <summary>The library file that loaded.</summary>
    public string Library { get; }

    /// <summary>Loads libcuda.so.1 and runs <c>cuInit</c>; throws <see cref="CudaUnavailableException"/> without a driver.</summary>
    public static CudaDriverApi Load()
    {
        var api = new CudaDriverApi(NativeLibraryLoader.Load("The CUDA driver", "libcuda.so.1", "libcuda.so"));
        int r = api.cuInit(0);
        if (r != 0)
        {
            throw new CudaUnavailableException($"cuInit failed: {api.ErrorName(r)} ({r}): {api.ErrorString(r)}");
        }

        return api;
    }

    /// <summary>Throws a <see cref="CudaException"/> naming <paramref name="call"/> when <paramref name="result"/> is not success.</summary>
    public void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new CudaException(call, result, ErrorName(result), ErrorString(result));
        }
    }

    public string ErrorName(int result)
    {
        byte* s = null;
        return cuGetErrorName(result, &s) == 0 && s != null ? Marshal.PtrToStringUTF8((nint)s) ?? "?" : "CUDA_ERROR_UNKNOWN_CODE";
    }

    public string ErrorString(int result)
    {
        byte* s = null;
        return cuGetErrorString(result, &s) == 0 && s != null ? Marshal.PtrToStringUTF8((nint)s) ?? "" : "";
    }

    public int DeviceCount()
    {
        int n;
        Check(cuDeviceGetCount(&n), "cuDeviceGetCount");
        return n;
    }

    public int Attribute(int device, CuDeviceAttribute attribute)
    {
        int v;
        Check(cuDeviceGetAttribute(&v, (int)attribute, device), "cuDeviceGetAttribute");
        return v;
    }

    public string DeviceName(int device)
    {
        byte* buffer = stackalloc byte[256];
        Check(cuDeviceGetName(buffer, 256, device), "cuDeviceGetName");
        return Marshal.PtrToStringUTF8((nint)buffer) ?? "";
    }

    public int DriverVersion()
    {
        int v;
        Check(cuDriverGetVersion(&v), "cuDriverGetVersion");
        return v;
    }
}
