using System.Text;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// Gathers some layers of a list of KV pool blocks into a dense staging buffer, or scatters staging back into
/// blocks (<c>Cuda/TransferKernels/KvBlockCopy.cu</c>): one launch per round of layers instead of a copy per block
/// and layer. Kernels are launched plainly (never with programmatic serialization), so a scatter that follows an
/// NCCL receive on the same stream sees all of its data.
/// </summary>
internal sealed unsafe class KvBlockMover : IDisposable
{
    private const string Resource = "OrleansInference.Native.Cuda.TransferKernels.KvBlockCopy.cu";
    private const uint Threads = 256;
    private readonly CudaContext _context;
    private readonly CudaModule _module;
    private readonly CudaFunction _gather;
    private readonly CudaFunction _scatter;

    public KvBlockMover(CudaContext context, KernelCompiler compiler)
    {
        _context = context;
        var image = compiler.Compile(Source(), "orleans_inference_kv_transfer", context.Architecture, []);
        _module = context.LoadModule(image);
        _gather = _module.GetFunction("kv_gather_layers");
        _scatter = _module.GetFunction("kv_scatter_layers");
    }

    /// <summary>The kernel source (embedded).</summary>
    public static string Source()
    {
        using var stream = typeof(KvBlockMover).Assembly.GetManifestResourceStream(Resource)
            ?? throw new CudaException($"The KV transfer kernels ({Resource}) are not embedded in the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// Copies layers <paramref name="firstLayer"/>..+<paramref name="layers"/> of the <paramref name="count"/> blocks
    /// listed at <paramref name="blockIds"/> (device int32s) from <paramref name="pool"/> to <paramref name="staging"/>.
    /// </summary>
    public void Gather(ulong pool, ulong staging, ulong blockIds, int count, int firstLayer, int layers, long blockBytes, long layerBytes, CudaStream stream) =>
        Launch(_gather, pool, staging, blockIds, count, firstLayer, layers, blockBytes, layerBytes, stream);

    /// <summary>The reverse of <see cref="Gather"/>: staging into the listed blocks.</summary>
    public void Scatter(ulong pool, ulong staging, ulong blockIds, int count, int firstLayer, int layers, long blockBytes, long layerBytes, CudaStream stream) =>
        Launch(_scatter, pool, staging, blockIds, count, firstLayer, layers, blockBytes, layerBytes, stream);

    /// <summary>Whether blocks of this size can be moved in the kernels' 16-byte words.</summary>
    public static bool Supports(long layerBytes) => layerBytes > 0 && layerBytes % 16 == 0;

    public void Dispose() => _module.Dispose();

    private void Launch(CudaFunction f, ulong pool, ulong staging, ulong blockIds, int count, int firstLayer, int layers, long blockBytes, long layerBytes, CudaStream stream)
    {
        if (count == 0 || layers == 0)
        {
            return;
        }

        if (!Supports(layerBytes))
        {
            throw new NotSupportedException($"KV transfer needs layer slices in multiples of 16 bytes, not {layerBytes}.");
        }

        var args = new KernelArgs().Ptr(pool).Ptr(staging).Ptr(blockIds).Int(count).Int(firstLayer).Long(blockBytes / 16).Long(layerBytes / 16);
        void** pointers = stackalloc void*[KernelArgs.Capacity];
        args.Fill(pointers);
        _context.MakeCurrent();
        var api = _context.Api;
        api.Check(api.cuLaunchKernel(f.Handle, (uint)count, (uint)layers, 1, Threads, 1, 1, 0, stream.Value, pointers, null), $"cuLaunchKernel({f.Name})");
    }
}
