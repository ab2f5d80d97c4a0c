// keys[r] = max over row r of (orderable(value) << 32 | ~index): the largest value, and among equals the smallest
// index (keys must be zeroed first; the host reads the index back from the low half). Each of a row's gridDim.x
// blocks scans a slice, so one long row is spread over many SMs. grid: (parts, rows), block: 256.
__device__ __forceinline__ u64 argmax_key(float v, int i)
{
    u32 u = __float_as_uint(v);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ((u64)u << 32) | (u64)(0xffffffffu - (u32)i);
}

__device__ __forceinline__ u64 u64_max(u64 a, u64 b) { return a > b ? a : b; }

extern "C" __global__ void argmax_rows_split(const float* __restrict__ logits, int vocab, u64* __restrict__ keys)
{
    pdl_enter();
    __shared__ u64 best[8];
    const float* row = logits + (long long)blockIdx.y * vocab;
    int slice = (vocab + gridDim.x - 1) / gridDim.x;
    int from = blockIdx.x * slice, to = min(vocab, from + slice);
    u64 k = 0;
    for (int i = from + threadIdx.x; i < to; i += blockDim.x) k = u64_max(k, argmax_key(row[i], i));
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) k = u64_max(k, __shfl_xor_sync(0xffffffffu, k, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) best[warp] = k;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        for (int w = 1; w < (int)(blockDim.x >> 5); w++) k = u64_max(k, best[w]);
        atomicMax(keys + blockIdx.y, k);
    }
}
