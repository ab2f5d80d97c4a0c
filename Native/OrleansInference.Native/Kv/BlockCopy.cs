namespace OrleansInference.Native.Kv;

/// <summary>A block the backend must copy before the step runs (copy-on-write of a shared partial block).</summary>
internal readonly record struct BlockCopy(int Source, int Destination);
