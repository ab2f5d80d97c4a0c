namespace OrleansInference.Native.Interop;

/// <summary>A non-blocking stream; all of a backend's work is ordered on one.</summary>
internal sealed unsafe class CudaStream : CudaChildHandle
{
    public CudaStream(CudaContext context, nint stream)
        : base(context, stream)
    {
    }

    public nint Value => DangerousGetHandle();

    public void Synchronize()
    {
        Context.MakeCurrent();
        Context.Api.Check(Context.Api.cuStreamSynchronize(Value), "cuStreamSynchronize");
    }

    /// <summary>Starts capturing this stream's work into a graph (thread-local mode).</summary>
    public void BeginCapture()
    {
        Context.MakeCurrent();
        Context.Api.Check(Context.Api.cuStreamBeginCapture(Value, CudaDriverApi.CaptureModeThreadLocal), "cuStreamBeginCapture_v2");
    }

    /// <summary>Ends the capture and instantiates the graph it recorded.</summary>
    public CudaGraphExec EndCapture()
    {
        var api = Context.Api;
        nint graph;
        api.Check(api.cuStreamEndCapture(Value, &graph), "cuStreamEndCapture");
        try
        {
            nint exec;
            api.Check(api.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiateWithFlags");
            return new CudaGraphExec(Context, exec);
        }
        finally
        {
            api.cuGraphDestroy(graph);
        }
    }

    protected override bool Free(nint value) => Context.Api.cuStreamDestroy(value) == 0;
}
