namespace OrleansInference.Native.Interop;

/// <summary>A cuBLASLt handle (<c>cublasLtCreate</c>) in the primary context.</summary>
internal sealed unsafe class CublasLtHandle : CudaChildHandle
{
    private CublasLtHandle(CudaContext context, CublasLtApi api, nint value)
        : base(context, value)
    {
        Api = api;
    }

    public CublasLtApi Api { get; }

    public nint Value => DangerousGetHandle();

    public static CublasLtHandle Create(CudaContext context, CublasLtApi api)
    {
        context.MakeCurrent();
        nint h;
        api.Check(api.cublasLtCreate(&h), "cublasLtCreate");
        return new CublasLtHandle(context, api, h);
    }

    protected override bool Free(nint value) => Api.cublasLtDestroy(value) == 0;
}
