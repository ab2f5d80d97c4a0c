// x[t, :] = float(embedding[tokens[t], :]); hidden % 8 == 0. grid: tokens, block: 128.
extern "C" __global__ void embedding_gather(const int* __restrict__ tokens, const bf16* __restrict__ table,
                                            float* __restrict__ x, int hidden)
{
    pdl_enter();
    int t = blockIdx.x;
    const uint4* row = (const uint4*)(table + (long long)tokens[t] * hidden);
    float* out = x + (long long)t * hidden;
    for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x)
    {
        uint4 v = row[i];
        float4 a = make_float4(bf_lo(v.x), bf_hi(v.x), bf_lo(v.y), bf_hi(v.y));
        float4 b = make_float4(bf_lo(v.z), bf_hi(v.z), bf_lo(v.w), bf_hi(v.w));
        ((float4*)out)[2 * i] = a;
        ((float4*)out)[2 * i + 1] = b;
    }
}
