using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>cuBLASLt (libcublasLt.so.13, else .12): matrix products with chosen algorithms.</summary>
internal sealed unsafe class CublasLtApi
{
    public const int ComputeType32F = 68;      // CUBLAS_COMPUTE_32F
    public const int DataTypeR32F = 0;         // CUDA_R_32F
    public const int DataTypeR16BF = 14;       // CUDA_R_16BF
    public const int OpN = 0;
    public const int OpT = 1;
    public const int DescTransA = 3;           // CUBLASLT_MATMUL_DESC_TRANSA
    public const int DescTransB = 4;           // CUBLASLT_MATMUL_DESC_TRANSB
    public const int PrefMaxWorkspaceBytes = 1; // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES

    public readonly delegate* unmanaged<nint*, int> cublasLtCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtDestroy;
    public readonly delegate* unmanaged<nint*, int, int, int> cublasLtMatmulDescCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatmulDescDestroy;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> cublasLtMatmulDescSetAttribute;
    public readonly delegate* unmanaged<nint*, int, ulong, ulong, long, int> cublasLtMatrixLayoutCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatrixLayoutDestroy;
    public readonly delegate* unmanaged<nint*, int> cublasLtMatmulPreferenceCreate;
    public readonly delegate* unmanaged<nint, int> cublasLtMatmulPreferenceDestroy;
    public readonly delegate* unmanaged<nint, int, void*, nuint, int> cublasLtMatmulPreferenceSetAttribute;
    public readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, HeuristicResult*, int*, int> cublasLtMatmulAlgoGetHeuristic;
    public readonly delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, MatmulAlgo*, ulong, nuint, nint, int> cublasLtMatmul;
    private readonly delegate* unmanaged<int, byte*> _statusName;
    private readonly delegate* unmanaged<int, byte*> _statusString;

    private CublasLtApi(NativeLibraryLoader lib)
    {
        Library = lib.Name;
        cublasLtCreate = (delegate* unmanaged<nint*, int>)lib.Get("cublasLtCreate");
        cublasLtDestroy = (delegate* unmanaged<nint, int>)lib.Get("cublasLtDestroy");
        cublasLtMatmulDescCreate = (delegate* unmanaged<nint*, int, int, int>)lib.Get("cublasLtMatmulDescCreate");
        cublasLtMatmulDescDestroy = (delegate* unmanaged<nint, int>)lib.Get("cublasLtMatmulDescDestroy");
        cublasLtMatmulDescSetAttribute = (delegate* unmanaged<nint, int, void*, nuint, int>)lib.Get("cublasLtMatmulDescSetAttribute");
        cublasLtMatrixLayoutCreate = (delegate* unmanaged<nint*, int, ulong, ulong, long, int>)lib.Get("cublasLtMatrixLayoutCreate");
        cublasLtMatrixLayoutDestroy = (delegate* unmanaged<nint, int>)lib.Get("cublasLtMatrixLayoutDestroy");
        cublasLtMatmulPreferenceCreate = (delegate* unmanaged<nint*, int>)lib.Get("cublasLtMatmulPreferenceCreate");
        cublasLtMatmulPreferenceDestroy = (delegate* unmanaged<nint, int>)lib.Get("cublasLtMatmulPreferenceDestroy");
        cublasLtMatmulPreferenceSetAttribute = (delegate* unmanaged<nint, int, void*, nuint, int>)lib.Get("cublasLtMatmulPreferenceSetAttribute");
        cublasLtMatmulAlgoGetHeuristic = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, HeuristicResult*, int*, int>)lib.Get("cublasLtMatmulAlgoGetHeuristic");
        cublasLtMatmul = (delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, MatmulAlgo*, ulong, nuint, nint, int>)lib.Get("cublasLtMatmul");
        _statusName = (delegate* unmanaged<int, byte*>)lib.TryGet("cublasLtGetStatusName");
        _statusString = (delegate* unmanaged<int, byte*>)lib.TryGet("cublasLtGetStatusString");
    }

    public string Library { get; }

    public static CublasLtApi Load() =>
        new(NativeLibraryLoader.Load("cuBLASLt", "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"));

    public void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new CudaException(call, status, StatusName(status), _statusString != null ? Marshal.PtrToStringUTF8((nint)_statusString(status)) : null);
        }
    }

    public string StatusName(int status)
    {
        if (_statusName != null)
        {
            return Marshal.PtrToStringUTF8((nint)_statusName(status)) ?? "CUBLAS_STATUS_UNKNOWN";
        }

        return status switch
        {
            1 => "CUBLAS_STATUS_NOT_INITIALIZED",
            3 => "CUBLAS_STATUS_ALLOC_FAILED",
            7 => "CUBLAS_STATUS_INVALID_VALUE",
            8 => "CUBLAS_STATUS_ARCH_MISMATCH",
            11 => "CUBLAS_STATUS_MAPPING_ERROR",
            13 => "CUBLAS_STATUS_EXECUTION_FAILED",
            14 => "CUBLAS_STATUS_INTERNAL_ERROR",
            15 => "CUBLAS_STATUS_NOT_SUPPORTED",
            _ => "CUBLAS_STATUS_UNKNOWN",
        };
    }

    /// <summary><c>cublasLtMatmulAlgo_t</c>: 8 opaque 64-bit words.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MatmulAlgo
    {
        public fixed ulong Data[8];
    }

    /// <summary><c>cublasLtMatmulHeuristicResult_t</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct HeuristicResult
    {
        public MatmulAlgo Algo;
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
        public fixed int Reserved[4];
    }
}
