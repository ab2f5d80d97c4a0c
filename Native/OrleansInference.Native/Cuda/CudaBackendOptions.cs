namespace OrleansInference.Native.Cuda;

/// <summary>Settings of a <see cref="CudaBackend"/>.</summary>
public sealed class CudaBackendOptions
{
    /// <summary>Tokens per step the activation buffers are sized for at first (a larger step grows them once).</summary>
    public int MaxBatchTokens { get; set; } = 2048;

    /// <summary>Sequences per step (decode batch size and chunks of a mixed step); also the largest decode graph.</summary>
    public int MaxSequences { get; set; } = 256;

    /// <summary>Where compiled kernels are kept; null uses <c>~/.cache/orleans-inference/kernels</c>, empty disables the cache.</summary>
    public string? KernelCacheDirectory { get; set; }

    /// <summary>Replays decode steps from CUDA graphs captured per batch-size bucket (1, 2, 4, …, 256).</summary>
    public bool UseCudaGraphs { get; set; } = true;

    /// <summary>Times the candidate algorithms of each matrix-product shape once (power-of-two row counts) and keeps the fastest.</summary>
    public bool TuneMatMul { get; set; } = true;

    /// <summary>On Hopper and newer, lets each kernel be scheduled while its predecessor finishes (programmatic dependent launch).</summary>
    public bool ProgrammaticLaunch { get; set; } = true;

    /// <summary>
    /// At decode sizes (≤ 2 tokens, products on the GEMV kernel) folds RoPE + KV store, SwiGLU and RMSNorm into the
    /// neighbouring products: five launches per layer instead of nine. Off runs every kernel separately (for comparison).
    /// </summary>
    public bool FuseSmallBatches { get; set; } = true;

    /// <summary>
    /// On Hopper and newer, runs every layer of a one-sequence decode step as one cooperative launch whose blocks meet
    /// at grid barriers (Kernels/PersistentDecode.cu) instead of five launches per layer. Needs <see cref="FuseSmallBatches"/>.
    /// </summary>
    public bool PersistentDecode { get; set; } = true;
}
