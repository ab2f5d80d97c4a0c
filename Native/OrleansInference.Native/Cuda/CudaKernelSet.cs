using System.Globalization;
using System.Reflection;
using System.Text;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// The model's kernels: every embedded <c>Cuda/Kernels/*.cu</c> (Common.cu first) compiled as one NVRTC program for
/// the device's architecture, with the model's head width, GQA group, KV heads and block size as compile-time
/// constants, cached on disk by <see cref="KernelCompiler"/>.
/// </summary>
internal sealed class CudaKernelSet : IDisposable
{
    private const string ResourcePrefix = "OrleansInference.Native.Cuda.Kernels.";
    private readonly CudaModule _module;

    public CudaKernelSet(CudaContext context, KernelCompiler compiler, ModelConfig config, int blockSize)
    {
        var options = new[]
        {
            "-DHEAD_DIM=" + config.HeadDim.ToString(CultureInfo.InvariantCulture),
            "-DGQA_GROUP=" + config.GroupSize.ToString(CultureInfo.InvariantCulture),
            "-DKV_HEADS=" + config.NumKvHeads.ToString(CultureInfo.InvariantCulture),
            "-DKV_BLOCK_SIZE=" + blockSize.ToString(CultureInfo.InvariantCulture),
            "-DHIDDEN=" + config.HiddenSize.ToString(CultureInfo.InvariantCulture),
        };
        var image = compiler.Compile(Source(), "orleans_inference_kernels", context.Architecture, options);
        WasCached = compiler.LastWasCached;
        _module = context.LoadModule(image);
        EmbeddingGather = _module.GetFunction("embedding_gather");
        RmsNorm = _module.GetFunction("rms_norm");
        RmsNormWarp = _module.GetFunction("rms_norm_warp");
        RopeStoreKv = _module.GetFunction("rope_store_kv");
        DecodeAttention = _module.GetFunction("paged_decode_attention");
        DecodeMerge = _module.GetFunction("decode_merge");
        DecodeAttentionV2 = _module.GetFunction("paged_decode_attention_v2");
        PrefillAttention = _module.GetFunction("paged_prefill_attention");
        SwiGlu = _module.GetFunction("swiglu");
        Argmax = _module.GetFunction("argmax_rows_split");
        Sample = _module.GetFunction("sample_rows");
        FillRandom = _module.GetFunction("fill_random_bf16");
        Gemv = _module.GetFunction("gemv_bf16");
        GemvPairs = _module.GetFunction("gemv_pairs");
        GemvResidualNorm = _module.GetFunction("gemv_residual_norm");
        PrefillAttentionV2 = _module.GetFunction("paged_prefill_attention_v2");
        PrefillAttentionV2SharedBytes = 2 * 2 * 64 * (config.HeadDim + 8) * 2;
        PrefillAttentionV3 = _module.GetFunction("paged_prefill_attention_v3");
        PersistentDecode = _module.GetFunction("persistent_decode_layers");
        PersistentDecodeWide = _module.GetFunction("persistent_decode_layers_wide");
        if (PrefillAttentionV2SharedBytes > 48 * 1024)
        {
            context.SetMaxDynamicSharedMemory(PrefillAttentionV2, PrefillAttentionV2SharedBytes);
            context.SetMaxDynamicSharedMemory(PrefillAttentionV3, PrefillAttentionV2SharedBytes);
        }
    }

    /// <summary>Every layer of a batch-1 decode step in one cooperative launch (Kernels/PersistentDecode.cu).</summary>
    public CudaFunction PersistentDecode { get; }

    /// <summary>The persistent kernel with one block of 16 warps per multiprocessor.</summary>
    public CudaFunction PersistentDecodeWide { get; }

    /// <summary>Whether the module came from the disk cache.</summary>
    public bool WasCached { get; }

    public CudaFunction EmbeddingGather { get; }

    public CudaFunction RmsNorm { get; }

    /// <summary>RMSNorm with one warp per row held in registers (hidden ≤ 4096, a multiple of 4); eight rows per block.</summary>
    public CudaFunction RmsNormWarp { get; }


    public CudaFunction RopeStoreKv { get; }

    public CudaFunction DecodeAttention { get; }

    public CudaFunction DecodeMerge { get; }

    /// <summary>Decode attention with the split's block table staged in shared memory and more keys in flight.</summary>
    public CudaFunction DecodeAttentionV2 { get; }

    public CudaFunction PrefillAttention { get; }

    /// <summary>The prefill attention with 32 query rows per warp and 128 per block (tiles of 128 queries); V2's shared memory.</summary>
    public CudaFunction PrefillAttentionV3 { get; }

    public CudaFunction SwiGlu { get; }

    public CudaFunction Argmax { get; }

    /// <summary>Token selection with the CPU sampler's rule (Sample.cu): one block of 1024 threads per row.</summary>
    public CudaFunction Sample { get; }

    public CudaFunction FillRandom { get; }

    public CudaFunction Gemv { get; }

    /// <summary>The GEMV with a column-pair epilogue: RoPE + KV store after QKV, or SwiGLU after gate/up (GemvFused.cu).</summary>
    public CudaFunction GemvPairs { get; }

    /// <summary>The GEMV adding into the residual, whose last block then writes the next RMSNorm (GemvFused.cu).</summary>
    public CudaFunction GemvResidualNorm { get; }

    /// <summary>The pipelined prefill attention (cp.async + ldmatrix); takes <see cref="PrefillAttentionV2SharedBytes"/> of dynamic shared memory.</summary>
    public CudaFunction PrefillAttentionV2 { get; }

    public int PrefillAttentionV2SharedBytes { get; }

    /// <summary>The program text: Common.cu, then the other kernel files by name.</summary>
    public static string Source()
    {
        var assembly = typeof(CudaKernelSet).Assembly;
        var names = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(".cu", StringComparison.Ordinal))
            .OrderBy(n => n.EndsWith(".Common.cu", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(n => n, StringComparer.Ordinal)
            .ToList();
        if (names.Count == 0)
        {
            throw new CudaException("The CUDA kernel sources are not embedded in the assembly.");
        }

        var text = new StringBuilder();
        foreach (var name in names)
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            text.Append("// ---- ").Append(name[ResourcePrefix.Length..]).Append('\n').Append(reader.ReadToEnd()).Append('\n');
        }

        return text.ToString();
    }

    public void Dispose() => _module.Dispose();
}
