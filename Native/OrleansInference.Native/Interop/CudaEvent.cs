namespace OrleansInference.Native.Interop;

/// <summary>A timing event.</summary>
internal sealed unsafe class CudaEvent : CudaChildHandle
{
    public CudaEvent(CudaContext context, nint value)
        : base(context, value)
    {
    }

    public nint Value => DangerousGetHandle();

    public void Record(CudaStream stream) =>
        Context.Api.Check(Context.Api.cuEventRecord(Value, stream.Value), "cuEventRecord");

    public void Synchronize() => Context.Api.Check(Context.Api.cuEventSynchronize(Value), "cuEventSynchronize");

    /// <summary>Milliseconds from <paramref name="start"/> to this event (both recorded and complete).</summary>
    public float ElapsedSince(CudaEvent start)
    {
        float ms;
        Context.Api.Check(Context.Api.cuEventElapsedTime(&ms, start.Value, Value), "cuEventElapsedTime");
        return ms;
    }

    protected override bool Free(nint value) => Context.Api.cuEventDestroy(value) == 0;
}
