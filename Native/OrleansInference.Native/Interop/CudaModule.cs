using System.Text;

namespace OrleansInference.Native.Interop;

/// <summary>A kernel entry point of a loaded module.</summary>
internal readonly record struct CudaFunction(nint Handle, string Name);

/// <summary>A module loaded from a CUBIN or PTX image (<c>cuModuleLoadData</c>).</summary>
internal sealed unsafe class CudaModule : CudaChildHandle
{
    public CudaModule(CudaContext context, nint module)
        : base(context, module)
    {
    }

    /// <summary>The <c>extern "C"</c> kernel called <paramref name="name"/>.</summary>
    public CudaFunction GetFunction(string name)
    {
        var bytes = Encoding.ASCII.GetBytes(name + "\0");
        nint f;
        fixed (byte* p = bytes)
        {
            Context.Api.Check(Context.Api.cuModuleGetFunction(&f, DangerousGetHandle(), p), $"cuModuleGetFunction({name})");
        }

        return new CudaFunction(f, name);
    }

    protected override bool Free(nint value) => Context.Api.cuModuleUnload(value) == 0;
}
