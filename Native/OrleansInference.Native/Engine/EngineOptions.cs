namespace OrleansInference.Native.Engine;

/// <summary>Engine settings, bound from configuration section <c>Engine</c>.</summary>
public sealed class EngineOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Engine";

    /// <summary>
    /// <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>, or several GPUs for tensor parallelism: <c>cuda:0,1</c>. With no usable
    /// GPU, <c>cuda</c> and <c>cuda:N</c> fall back to CPU with a warning; a tensor-parallel device never does.
    /// </summary>
    public string Device { get; set; } = "cpu";

    /// <summary>
    /// Devices one model is split over (tensor parallelism; heads, KV heads and MLP width must divide by it). With
    /// <c>cuda</c> it takes GPUs 0..N-1; with a GPU list (<c>cuda:0,1</c>) it may stay 1 or must equal the list's
    /// length; with <c>cpu</c>, N CPU ranks on threads (checks the split without a GPU). The KV memory
    /// (<see cref="KvCacheMemoryMiB"/>) is the total over the devices.
    /// </summary>
    public int TensorParallel { get; set; } = 1;

    /// <summary>Name the model is served under; defaults to the directory name or <c>builtin</c>.</summary>
    public string? ModelId { get; set; }

    /// <summary>Tokens per KV block.</summary>
    public int BlockSize { get; set; } = 16;

    /// <summary>KV blocks in the pool; 0 sizes it from <see cref="KvCacheMemoryMiB"/>.</summary>
    public int NumBlocks { get; set; }

    /// <summary>Memory given to the KV pool when <see cref="NumBlocks"/> is 0.</summary>
    public int KvCacheMemoryMiB { get; set; } = 256;

    /// <summary>Maximum prompt + output tokens per sequence; 0 uses the model's maximum.</summary>
    public int MaxModelLength { get; set; }

    /// <summary>Maximum tokens computed per step (prefill chunks plus decodes).</summary>
    public int MaxBatchTokens { get; set; } = 512;

    /// <summary>Maximum sequences running at once (capped at <see cref="MaxBatchTokens"/>, so each can decode every step).</summary>
    public int MaxRunningSequences { get; set; } = 64;

    /// <summary>Maximum waiting requests; more are refused with <see cref="EngineErrorKind.Overloaded"/>.</summary>
    public int MaxQueuedRequests { get; set; } = 1024;

    /// <summary>Reuse cached blocks across requests.</summary>
    public bool EnablePrefixCaching { get; set; } = true;

    /// <summary>CPU threads for the CPU backend; 0 = all cores.</summary>
    public int CpuThreads { get; set; }

    /// <summary>
    /// Let a backend that can (<see cref="Backends.ITokenSelectingBackend"/>) choose tokens where the logits are
    /// (GPU argmax and sampling: only ids cross the bus) for steps whose rows need no logprobs or penalties. The
    /// tokens are the same either way; false keeps every choice on the host (diagnostics).
    /// </summary>
    public bool SelectTokensOnDevice { get; set; } = true;
}
