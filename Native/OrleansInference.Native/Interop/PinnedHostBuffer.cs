namespace OrleansInference.Native.Interop;

/// <summary>Page-locked host memory (<c>cuMemHostAlloc</c>): asynchronous copies from and to it overlap the host.</summary>
internal sealed unsafe class PinnedHostBuffer : CudaChildHandle
{
    public PinnedHostBuffer(CudaContext context, void* pointer, long bytes)
        : base(context, (nint)pointer)
    {
        Bytes = bytes;
    }

    public void* Pointer => (void*)DangerousGetHandle();

    public long Bytes { get; }

    public Span<T> AsSpan<T>()
        where T : unmanaged => new(Pointer, checked((int)(Bytes / sizeof(T))));

    protected override bool Free(nint value) => Context.Api.cuMemFreeHost((void*)value) == 0;
}
