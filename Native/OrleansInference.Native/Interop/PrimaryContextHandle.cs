using System.Runtime.InteropServices;

namespace OrleansInference.Native.Interop;

/// <summary>
/// A retained primary context (<c>cuDevicePrimaryCtxRetain</c>): shared with cuBLASLt and NCCL, released by
/// <c>cuDevicePrimaryCtxRelease</c> once every handle made in it has been freed (they hold references to this one).
/// </summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    private readonly CudaDriverApi _api;
    private readonly int _device;

    public PrimaryContextHandle(CudaDriverApi api, int device, nint context)
        : base(0, ownsHandle: true)
    {
        _api = api;
        _device = device;
        SetHandle(context);
    }

    public override bool IsInvalid => handle == 0;

    protected override unsafe bool ReleaseHandle() => _api.cuDevicePrimaryCtxRelease(_device) == 0;
}
