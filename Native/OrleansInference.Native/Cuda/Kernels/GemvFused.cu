// Decode products (≤ GEMV_MAX_M rows, the GEMV of Gemv.cu) with the small kernels around them folded in, so a decoder
// layer is five launches at small batch instead of nine — at batch 1 those launches, not the bytes, were the gap to the
// bandwidth roofline:
//   gemv_pairs          the QKV product with RoPE and the paged KV store, or the gate/up product with SwiGLU. A block
//                       owns column pairs (its first half of columns the pairs' first members, its second half their
//                       partners), so each pair is finished by the block that computed it;
//   gemv_residual_norm  the O or down product added into the fp32 residual; the last block to finish then
//                       RMS-normalizes the updated rows into the next product's bf16 input. By default the backend
//                       instead adds with the plain GEMV and lets gemv_pairs normalize the residual itself (normR),
//                       which measured 6% faster at batch 1 (no atomic count and serial tail between kernels).
// Rounding follows the unfused kernels: products are rounded to bf16 before RoPE or SwiGLU reads them.

#define PAIR_SWIGLU 0
#define PAIR_ROPE 1

// The column of W computed for member `second` of `pair`. SwiGLU pairs gate i with up i (column i + N/2). RoPE pairs
// dims j and j + D/2 of each q and k head (the rotation's pairs); the v columns pair up as neighbours, only stored.
__device__ __forceinline__ int pair_column(int mode, int pair, int second, int N, int qkPairs)
{
    const int half = HEAD_DIM / 2;
    if (mode == PAIR_SWIGLU) return pair + second * (N / 2);
    if (pair < qkPairs) return (pair / half) * HEAD_DIM + pair % half + second * half;
    return 2 * qkPairs + 2 * (pair - qkPairs) + second;
}

// The pair's epilogue for token m: a, b are the two columns' values (bf16-rounded).
__device__ __forceinline__ void pair_epilogue(int mode, int pair, int m, float a, float b, int N, int qkPairs, bf16* __restrict__ Y,
                                              const float* __restrict__ bias, const int* __restrict__ positions, const int* __restrict__ slots,
                                              const float* __restrict__ invFreq, bf16* __restrict__ pool, long long blockStride,
                                              long long layerOffset, long long planeStride, int numHeads)
{
    const int D = HEAD_DIM, half = HEAD_DIM / 2;
    if (mode == PAIR_SWIGLU)
    {
        Y[(long long)m * (N / 2) + pair] = f2bf(a / (1.0f + expf(-a)) * b);
        return;
    }
    int c1 = pair_column(PAIR_ROPE, pair, 0, N, qkPairs), c2 = pair_column(PAIR_ROPE, pair, 1, N, qkPairs);
    if (bias)
    {
        a += bias[c1];
        b += bias[c2];
    }
    int slot = slots[m];
    bf16* kDst = pool + (long long)(slot / KV_BLOCK_SIZE) * blockStride + layerOffset + (long long)(slot % KV_BLOCK_SIZE) * KV_HEADS * D;
    if (pair >= qkPairs)
    {
        bf16* vDst = kDst + planeStride - 2 * qkPairs;
        vDst[c1] = f2bf(a);
        vDst[c2] = f2bf(b);
        return;
    }
    int head = pair / half, j = pair % half;
    float s, c;
    sincosf((float)positions[m] * invFreq[j], &s, &c);
    float o1 = a * c - b * s, o2 = b * c + a * s;
    bf16* dst = head < numHeads ? Y + ((long long)m * numHeads + head) * D : kDst + (head - numHeads) * D;
    dst[j] = f2bf(o1);
    dst[j + half] = f2bf(o2);
}

template <int M>
__device__ __forceinline__ void gemv_pairs_rows(const bf16* __restrict__ W, const bf16* __restrict__ X, int N, int K, int splits, int mode,
                                                bf16* __restrict__ Y, const float* __restrict__ bias, const int* __restrict__ positions,
                                                const int* __restrict__ slots, const float* __restrict__ invFreq, bf16* __restrict__ pool,
                                                long long blockStride, long long layerOffset, long long planeStride, int numHeads,
                                                const float* __restrict__ normR, const float* __restrict__ normW, float eps)
{
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_M];
    __shared__ float column[GEMV_WARPS][GEMV_MAX_M];
    __shared__ uint4 xs[GEMV_NORM_MAX_M * (HIDDEN / 8)];
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int pairsPerBlock = GEMV_WARPS / splits / 2;
    int slot = warpInBlock / splits;
    int pair = blockIdx.x * pairsPerBlock + slot % pairsPerBlock;
    int qkPairs = (numHeads + KV_HEADS) * (HEAD_DIM / 2);
    bool active = pair < N / 2;
    int n = active ? pair_column(mode, pair, slot / pairsPerBlock, N, qkPairs) : 0;
    float acc[M];
    gemv_column<M>(W, X, n, active, K, splits, acc, partial, M <= GEMV_NORM_MAX_M && K == HIDDEN ? normR : nullptr, normW, eps, xs);
    if (lane == 0 && warpInBlock % splits == 0)
    {
#pragma unroll
        for (int m = 0; m < M; m++) column[slot][m] = acc[m];
    }
    __syncthreads();

    // One thread per (pair of this block, token).
    int p = threadIdx.x % pairsPerBlock, m = threadIdx.x / pairsPerBlock;
    pair = blockIdx.x * pairsPerBlock + p;
    if (m >= M || pair >= N / 2) return;
    float a = bf2f(f2bf(column[p][m])), b = bf2f(f2bf(column[p + pairsPerBlock][m]));
    pair_epilogue(mode, pair, m, a, b, N, qkPairs, Y, bias, positions, slots, invFreq, pool, blockStride, layerOffset, planeStride, numHeads);
}

// mode PAIR_SWIGLU: W = [gate; up] (N = 2·inter), Y = act [M, inter]. mode PAIR_ROPE: W = [q; k; v], Y = q [M, heads, D],
// k and v stored at each token's slot of the pool. With normR (≤ GEMV_NORM_MAX_M rows, K = HIDDEN) the input is
// RMSNorm(normR) · normW, computed by every block into shared memory (X unused). splits ∈ {1, 2, 4} (a block holds at least one pair);
// grid: ceil(N / 2 / (GEMV_WARPS / splits / 2)), block: 32 * GEMV_WARPS.
extern "C" __global__ void __launch_bounds__(32 * GEMV_WARPS, 3) gemv_pairs(
    const bf16* __restrict__ W, const bf16* __restrict__ X, int M, int N, int K, int splits, int mode, bf16* __restrict__ Y,
    const float* __restrict__ bias, const int* __restrict__ positions, const int* __restrict__ slots, const float* __restrict__ invFreq,
    bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride, int numHeads,
    const float* __restrict__ normR, const float* __restrict__ normW, float eps)
{
#define GEMV_PAIRS_CASE(R) \
    case R: gemv_pairs_rows<R>(W, X, N, K, splits, mode, Y, bias, positions, slots, invFreq, pool, blockStride, layerOffset, planeStride, numHeads, normR, normW, eps); break;
    switch (M)
    {
    GEMV_PAIRS_CASE(1)
    GEMV_PAIRS_CASE(2)
    GEMV_PAIRS_CASE(3)
    GEMV_PAIRS_CASE(4)
    GEMV_PAIRS_CASE(5)
    GEMV_PAIRS_CASE(6)
    GEMV_PAIRS_CASE(7)
    default: gemv_pairs_rows<8>(W, X, N, K, splits, mode, Y, bias, positions, slots, invFreq, pool, blockStride, layerOffset, planeStride, numHeads, normR, normW, eps); break;
    }
#undef GEMV_PAIRS_CASE
}

// out = bf16(w · (row · inv)), as rms_norm computes it, over this thread's float4s (batched as in sum_squares).
__device__ __forceinline__ void store_normed(bf16* out, const float4* row, const float4* w, int count, int first, int stride, float inv)
{
    for (int i = first; i < count; i += 4 * stride)
    {
        float4 v[4];
#pragma unroll
        for (int u = 0; u < 4; u++) v[u] = i + u * stride < count ? load_l2(row + i + u * stride) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
        for (int u = 0; u < 4; u++)
        {
            int j = i + u * stride;
            if (j < count)
            {
                ((uint2*)out)[j] = norm_bf4(v[u], w[j], inv);
            }
        }
    }
}

template <int M>
__device__ __forceinline__ void gemv_residual_norm_rows(const bf16* __restrict__ W, const bf16* __restrict__ X, int N, int K, int splits,
                                                        float* __restrict__ R, const float* __restrict__ weight, float eps,
                                                        bf16* __restrict__ Xn, int* __restrict__ counter)
{
    __shared__ float scratch[32];
    __shared__ int last;
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
    gemv_rows<M>(W, X, N, K, R, 2, splits);

    // The last block to finish sees every block's additions (each fenced before counting itself in).
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1) == (int)gridDim.x - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    const float4* g = (const float4*)weight;
    if (M == 1)
    {
        // One row: the whole block reduces it.
        const float4* row = (const float4*)R;
        float inv = rsqrtf(block_sum(sum_squares(row, N / 4, threadIdx.x, blockDim.x), scratch) / N + eps);
        store_normed(Xn, row, g, N / 4, threadIdx.x, blockDim.x, inv);
    }
    else if (warpInBlock < M)
    {
        // Several rows: one warp each, side by side.
        const float4* row = (const float4*)(R + (long long)warpInBlock * N);
        bf16* out = Xn + (long long)warpInBlock * N;
        float inv = rsqrtf(warp_sum(sum_squares(row, N / 4, lane, 32)) / N + eps);
        store_normed(out, row, g, N / 4, lane, 32, inv);
    }
    // Re-armed for the next launch (graphs replay this kernel with the same counter).
    if (threadIdx.x == 0) *counter = 0;
}

// R[M, N] += X[M, K] · W[N, K]ᵀ (the residual stream), then Xn = RMSNorm(R) · weight in bf16 for the next product.
// counter: one int, zero between launches. N % 4 == 0. grid: ceil(N / (GEMV_WARPS / splits)), block: 32 * GEMV_WARPS.
extern "C" __global__ void __launch_bounds__(32 * GEMV_WARPS, 3) gemv_residual_norm(
    const bf16* __restrict__ W, const bf16* __restrict__ X, int M, int N, int K, int splits, float* __restrict__ R,
    const float* __restrict__ weight, float eps, bf16* __restrict__ Xn, int* __restrict__ counter)
{
    switch (M)
    {
    case 1: gemv_residual_norm_rows<1>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 2: gemv_residual_norm_rows<2>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 3: gemv_residual_norm_rows<3>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 4: gemv_residual_norm_rows<4>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 5: gemv_residual_norm_rows<5>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 6: gemv_residual_norm_rows<6>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    case 7: gemv_residual_norm_rows<7>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    default: gemv_residual_norm_rows<8>(W, X, N, K, splits, R, weight, eps, Xn, counter); break;
    }
}
