using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>A cuBLASLt matmul descriptor, matrix layout or preference (host-side objects of the library).</summary>
internal sealed unsafe class CublasLtDescriptor : SafeHandle
{
    public enum Kind
    {
        Matmul,
        Layout,
        Preference,
    }

    private readonly CublasLtApi _api;
    private readonly Kind _kind;

    private CublasLtDescriptor(CublasLtApi api, Kind kind, nint value)
        : base(0, ownsHandle: true)
    {
        _api = api;
        _kind = kind;
        SetHandle(value);
    }

    public nint Value => DangerousGetHandle();

    public override bool IsInvalid => handle == 0;

    /// <summary>D = op(A)·op(B) with fp32 compute and scale, op(A) = Aᵀ, op(B) = B.</summary>
    public static CublasLtDescriptor MatmulTN(CublasLtApi api)
    {
        nint d;
        api.Check(api.cublasLtMatmulDescCreate(&d, CublasLtApi.ComputeType32F, CublasLtApi.DataTypeR32F), "cublasLtMatmulDescCreate");
        var desc = new CublasLtDescriptor(api, Kind.Matmul, d);
        int t = CublasLtApi.OpT, n = CublasLtApi.OpN;
        api.Check(api.cublasLtMatmulDescSetAttribute(d, CublasLtApi.DescTransA, &t, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
        api.Check(api.cublasLtMatmulDescSetAttribute(d, CublasLtApi.DescTransB, &n, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
        return desc;
    }

    /// <summary>A column-major <paramref name="rows"/>×<paramref name="cols"/> matrix with leading dimension <paramref name="ld"/>.</summary>
    public static CublasLtDescriptor Layout(CublasLtApi api, int dataType, long rows, long cols, long ld)
    {
        nint l;
        api.Check(api.cublasLtMatrixLayoutCreate(&l, dataType, (ulong)rows, (ulong)cols, ld), "cublasLtMatrixLayoutCreate");
        return new CublasLtDescriptor(api, Kind.Layout, l);
    }

    public static CublasLtDescriptor Preference(CublasLtApi api, ulong maxWorkspaceBytes)
    {
        nint p;
        api.Check(api.cublasLtMatmulPreferenceCreate(&p), "cublasLtMatmulPreferenceCreate");
        var pref = new CublasLtDescriptor(api, Kind.Preference, p);
        api.Check(api.cublasLtMatmulPreferenceSetAttribute(p, CublasLtApi.PrefMaxWorkspaceBytes, &maxWorkspaceBytes, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
        return pref;
    }

    protected override bool ReleaseHandle() => _kind switch
    {
        Kind.Matmul => _api.cublasLtMatmulDescDestroy(handle),
        Kind.Layout => _api.cublasLtMatrixLayoutDestroy(handle),
        _ => _api.cublasLtMatmulPreferenceDestroy(handle),
    } == 0;
}
