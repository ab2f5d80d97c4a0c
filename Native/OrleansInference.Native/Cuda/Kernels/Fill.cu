// Deterministic pseudo-random bf16 values in [-scale, scale): test and benchmark data that is neither zero nor
// regular. grid-stride loop over count elements.
extern "C" __global__ void fill_random_bf16(bf16* __restrict__ out, long long count, u64 seed, float scale)
{
    pdl_enter();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long long)gridDim.x * blockDim.x)
    {
        u64 z = seed + (u64)i * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        float u = (float)(z >> 40) * (1.0f / 16777216.0f);
        out[i] = f2bf((2.0f * u - 1.0f) * scale);
    }
}
