// out[r] = the index of the largest logit of row r (the smallest index among equals). grid: rows, block: 1024.
extern "C" __global__ void argmax_rows(const float* __restrict__ logits, int vocab, int* __restrict__ out)
{
    __shared__ float bestValue[32];
    __shared__ int bestIndex[32];
    const float* row = logits + (long long)blockIdx.x * vocab;
    float v = NEG_INF;
    int idx = 0x7fffffff;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float x = row[i];
        if (x > v) { v = x; idx = i; }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
    {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, idx, o);
        if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { bestValue[warp] = v; bestIndex[warp] = idx; }
    __syncthreads();
    if (warp == 0)
    {
        int warps = blockDim.x >> 5;
        v = lane < warps ? bestValue[lane] : NEG_INF;
        idx = lane < warps ? bestIndex[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
        {
            float ov = __shfl_xor_sync(0xffffffffu, v, o);
            int oi = __shfl_xor_sync(0xffffffffu, idx, o);
            if (ov > v || (ov == v && oi < idx)) { v = ov; idx = oi; }
        }
        if (lane == 0) out[blockIdx.x] = idx == 0x7fffffff ? 0 : idx;
    }
}
