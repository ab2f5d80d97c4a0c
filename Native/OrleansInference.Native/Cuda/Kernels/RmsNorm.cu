// y[r, :] = bf16(weight * x[src, :] / sqrt(mean(x[src, :]^2) + eps)), computed in fp32 as transformers does.
// src = rows ? rows[r] : r (rows selects the positions whose logits are wanted). grid: output rows, block: 256.
extern "C" __global__ void rms_norm(const float* __restrict__ x, const int* __restrict__ rows,
                                    const float* __restrict__ weight, bf16* __restrict__ y, int hidden, float eps)
{
    pdl_enter();
    __shared__ float scratch[32];
    int r = blockIdx.x;
    int src = rows ? rows[r] : r;
    const float4* in = (const float4*)(x + (long long)src * hidden);
    float ss = 0.0f;
    for (int i = threadIdx.x; i < hidden / 4; i += blockDim.x)
    {
        float4 v = in[i];
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    float inv = rsqrtf(block_sum(ss, scratch) / hidden + eps);
    uint2* out = (uint2*)(y + (long long)r * hidden);
    const float4* w = (const float4*)weight;
    for (int i = threadIdx.x; i < hidden / 4; i += blockDim.x)
    {
        float4 v = in[i], g = w[i];
        out[i] = make_uint2(pack_bf2(g.x * (v.x * inv), g.y * (v.y * inv)), pack_bf2(g.z * (v.z * inv), g.w * (v.w * inv)));
    }
}
