namespace OrleansInference.Native.Cuda;

/// <summary>
/// The stages of a decode layer, as the benchmark's timing ablation leaves them out (the five-launch fused layer's
/// kernels, or the persistent kernel's phases: the values are the kernel's phase bits).
/// </summary>
[Flags]
internal enum DecodeStages
{
    None = 0,
    Qkv = 1,
    Attention = 2,
    O = 4,
    GateUp = 8,
    Down = 16,
    All = Qkv | Attention | O | GateUp | Down,
}
