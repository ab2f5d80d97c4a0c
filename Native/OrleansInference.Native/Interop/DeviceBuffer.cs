namespace OrleansInference.Native.Interop;

/// <summary>Device memory from <c>cuMemAlloc</c>.</summary>
internal sealed unsafe class DeviceBuffer : CudaChildHandle
{
    public DeviceBuffer(CudaContext context, ulong pointer, long bytes)
        : base(context, (nint)pointer)
    {
        Bytes = bytes;
    }

    /// <summary>The device address.</summary>
    public ulong Pointer => (ulong)DangerousGetHandle();

    /// <summary>Size in bytes.</summary>
    public long Bytes { get; }

    protected override bool Free(nint value) => Context.Api.cuMemFree((ulong)value) == 0;
}
