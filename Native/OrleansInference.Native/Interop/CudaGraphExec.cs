namespace OrleansInference.Native.Interop;

/// <summary>An instantiated CUDA graph, replayed with <see cref="Launch"/>.</summary>
internal sealed unsafe class CudaGraphExec : CudaChildHandle
{
    public CudaGraphExec(CudaContext context, nint exec)
        : base(context, exec)
    {
    }

    public void Launch(CudaStream stream) =>
        Context.Api.Check(Context.Api.cuGraphLaunch(DangerousGetHandle(), stream.Value), "cuGraphLaunch");

    protected override bool Free(nint value) => Context.Api.cuGraphExecDestroy(value) == 0;
}
