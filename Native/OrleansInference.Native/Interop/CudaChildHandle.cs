using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>
/// A native object that lives in a context. It keeps the context retained until it is freed, and makes the context
/// current before freeing (a finalizer thread has no current context).
/// </summary>
internal abstract class CudaChildHandle : SafeHandle
{
    protected CudaChildHandle(CudaContext context, nint value)
        : base(0, ownsHandle: true)
    {
        Context = context;
        bool added = false;
        context.Handle.DangerousAddRef(ref added);
        SetHandle(value);
    }

    public CudaContext Context { get; }

    public override bool IsInvalid => handle == 0;

    protected sealed override unsafe bool ReleaseHandle()
    {
        try
        {
            Context.Api.cuCtxSetCurrent(Context.Handle.DangerousGetHandle());
            return Free(handle);
        }
        finally
        {
            Context.Handle.DangerousRelease();
        }
    }

    /// <summary>Frees the native object; returns false when the library reported an error.</summary>
    protected abstract bool Free(nint value);
}
