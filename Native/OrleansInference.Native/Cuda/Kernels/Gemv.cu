// Y[m, n] = Σ_k X[m, k] · W[n, k] for a few rows m (decode): a matrix-vector product that streams W once at close
// to memory bandwidth. One warp (or `splits` warps, for short wide products) per output column n; each lane loads 16 bytes of W's row per step with
// GEMV_UNROLL steps in flight (loads that skip L1, so X's rows, read by every warp, stay there). mode 0 writes bf16
// Y, 1 writes fp32 Y, 2 adds into fp32 Y (the residual stream). block: 32 * GEMV_WARPS.
#define GEMV_WARPS 8
#define GEMV_UNROLL 8
#define GEMV_MAX_M 8

__device__ __forceinline__ uint4 load_stream(const uint4* p)
{
    uint4 r;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p));
    return r;
}

__device__ __forceinline__ float dot8(uint4 w, uint4 x)
{
    float s = bf_lo(w.x) * bf_lo(x.x);
    s += bf_hi(w.x) * bf_hi(x.x);
    s += bf_lo(w.y) * bf_lo(x.y);
    s += bf_hi(w.y) * bf_hi(x.y);
    s += bf_lo(w.z) * bf_lo(x.z);
    s += bf_hi(w.z) * bf_hi(x.z);
    s += bf_lo(w.w) * bf_lo(x.w);
    s += bf_hi(w.w) * bf_hi(x.w);
    return s;
}

// Starts pulling the slice of W's row that this warp will stream into L2 (one bulk prefetch, Hopper). Called before
// the kernel waits for its predecessor: weights do not depend on it, so their load overlaps its tail.
__device__ __forceinline__ void prefetch_row_l2(const uint4* w, int c0, int c1, bool active)
{
#if __CUDA_ARCH__ >= 900
    if (active && (threadIdx.x & 31) == 0 && c1 > c0)
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(w + c0), "r"((c1 - c0) * 16) : "memory");
#endif
}

// acc[m] += this lane's part of W's row (16-byte chunks [c0, c1)) · X's row m (M rows of `chunks` chunks each).
template <int M>
__device__ __forceinline__ void gemv_dot(const uint4* __restrict__ w, const uint4* __restrict__ x, int chunks, int c0, int c1, float (&acc)[M])
{
    int c = c0 + (threadIdx.x & 31);
    for (; c + 32 * (GEMV_UNROLL - 1) < c1; c += 32 * GEMV_UNROLL)
    {
        uint4 wv[GEMV_UNROLL];
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++) wv[u] = load_stream(w + c + 32 * u);
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++)
        {
#pragma unroll
            for (int m = 0; m < M; m++) acc[m] += dot8(wv[u], x[m * chunks + c + 32 * u]);
        }
    }
    // The tail (all of a short split) as one predicated batch: its loads are in flight together instead of one by one.
    if (c < c1)
    {
        uint4 wv[GEMV_UNROLL];
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++) wv[u] = c + 32 * u < c1 ? load_stream(w + c + 32 * u) : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int u = 0; u < GEMV_UNROLL; u++)
        {
            if (c + 32 * u < c1)
            {
#pragma unroll
                for (int m = 0; m < M; m++) acc[m] += dot8(wv[u], x[m * chunks + c + 32 * u]);
            }
        }
    }
}

// Sums each column over its warps: afterwards the lanes of the column's first warp (split 0) hold its totals.
// Every thread of the block calls it (it may synchronize the block).
template <int M>
__device__ __forceinline__ void gemv_reduce(float (&acc)[M], int splits, float (*partial)[GEMV_MAX_M])
{
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
#pragma unroll
    for (int m = 0; m < M; m++) acc[m] = warp_sum(acc[m]);
    if (splits > 1)
    {
        if (lane == 0)
        {
#pragma unroll
            for (int m = 0; m < M; m++) partial[warpInBlock][m] = acc[m];
        }
        __syncthreads();
        if (warpInBlock % splits == 0)
        {
#pragma unroll
            for (int m = 0; m < M; m++)
            {
                float t = 0.0f;
                for (int q = 0; q < splits; q++) t += partial[warpInBlock + q][m];
                acc[m] = t;
            }
        }
    }
}

// Σ v² over this thread's float4s of a row (indices first, first + stride, ...), four loads in flight at a time: the
// loads are ordered asm, so without batching each would wait for the previous one's sum.
__device__ __forceinline__ float sum_squares(const float4* row, int count, int first, int stride)
{
    float ss = 0.0f;
    for (int i = first; i < count; i += 4 * stride)
    {
        float4 v[4];
#pragma unroll
        for (int u = 0; u < 4; u++) v[u] = i + u * stride < count ? load_l2(row + i + u * stride) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
#pragma unroll
        for (int u = 0; u < 4; u++) ss += v[u].x * v[u].x + v[u].y * v[u].y + v[u].z * v[u].z + v[u].w * v[u].w;
    }
    return ss;
}

// bf16(g · (v · inv)) for four values of a row, as rms_norm rounds them.
__device__ __forceinline__ uint2 norm_bf4(float4 v, float4 g, float inv)
{
    return make_uint2(pack_bf2(g.x * (v.x * inv), g.y * (v.y * inv)), pack_bf2(g.z * (v.z * inv), g.w * (v.w * inv)));
}

// Rows of the GEMV input computed by the block itself: xs[m] = bf16(weight · R[m] / rms(R[m])) for the block's use,
// rounded as rms_norm rounds. Every block of the product does it (8 KB of L2 reads per row at 2,048 columns), instead
// of the previous product's last block writing the normalized rows for everyone (an atomic counter and a serial tail
// between the two kernels). Each thread loads its chunks of the row and of the weight once, all before the sum, so the
// block waits for one round trip to L2 per row. K = HIDDEN; blocks of at least 32 · GEMV_WARPS threads. Every thread of
// the block calls it; it ends with a barrier.
#define GEMV_NORM_MAX_M 2
#define GEMV_NORM_PER ((HIDDEN / 8 + 32 * GEMV_WARPS - 1) / (32 * GEMV_WARPS))
template <int M>
__device__ __forceinline__ void gemv_norm_rows(const float* __restrict__ R, const float* __restrict__ weight, float eps, uint4* xs)
{
    __shared__ float scratch[32];
    const int chunks = HIDDEN >> 3;
    const float4* g = (const float4*)weight;
#pragma unroll
    for (int m = 0; m < M; m++)
    {
        const float4* row = (const float4*)(R + (long long)m * HIDDEN);
        float4 a[GEMV_NORM_PER], b[GEMV_NORM_PER], ga[GEMV_NORM_PER], gb[GEMV_NORM_PER];
        float ss = 0.0f;
#pragma unroll
        for (int i = 0; i < GEMV_NORM_PER; i++)
        {
            int c = threadIdx.x + i * blockDim.x;
            bool in = c < chunks;
            a[i] = in ? load_l2(row + 2 * c) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            b[i] = in ? load_l2(row + 2 * c + 1) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            ga[i] = in ? g[2 * c] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            gb[i] = in ? g[2 * c + 1] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
#pragma unroll
        for (int i = 0; i < GEMV_NORM_PER; i++)
            ss += a[i].x * a[i].x + a[i].y * a[i].y + a[i].z * a[i].z + a[i].w * a[i].w + b[i].x * b[i].x + b[i].y * b[i].y + b[i].z * b[i].z + b[i].w * b[i].w;
        float inv = rsqrtf(block_sum(ss, scratch) / HIDDEN + eps);
#pragma unroll
        for (int i = 0; i < GEMV_NORM_PER; i++)
        {
            int c = threadIdx.x + i * blockDim.x;
            if (c < chunks)
            {
                uint2 lo = norm_bf4(a[i], ga[i], inv), hi = norm_bf4(b[i], gb[i], inv);
                xs[m * chunks + c] = make_uint4(lo.x, lo.y, hi.x, hi.y);
            }
        }
    }
    __syncthreads();
}

// One warp's column n of the product and its split of K: prefetches the split, waits for the predecessor kernel,
// and leaves the column's totals in acc (in the lanes of the column's split-0 warp). With normR the input rows are
// RMSNorm(normR) · normW, computed into xs first (gemv_norm_rows; then X is not read).
template <int M>
__device__ __forceinline__ void gemv_column(const bf16* __restrict__ W, const bf16* __restrict__ X, int n, bool active, int K, int splits,
                                            float (&acc)[M], float (*partial)[GEMV_MAX_M], const float* __restrict__ normR = nullptr,
                                            const float* __restrict__ normW = nullptr, float eps = 0.0f, uint4* xs = nullptr)
{
    const uint4* w = (const uint4*)(W + (long long)(active ? n : 0) * K);
    int chunks = K >> 3;
    int per = (chunks + splits - 1) / splits;
    int c0 = ((threadIdx.x >> 5) % splits) * per, c1 = min(chunks, c0 + per);
    prefetch_row_l2(w, c0, c1, active);
    pdl_enter();
    const uint4* x = (const uint4*)X;
    if (normR)
    {
        gemv_norm_rows<M>(normR, normW, eps, xs);
        x = xs;
    }
#pragma unroll
    for (int m = 0; m < M; m++) acc[m] = 0.0f;
    if (active) gemv_dot<M>(w, x, chunks, c0, c1, acc);
    gemv_reduce<M>(acc, splits, partial);
}

template <int M>
__device__ __forceinline__ void gemv_rows(const bf16* __restrict__ W, const bf16* __restrict__ X, int N, int K, void* __restrict__ Y, int mode, int splits)
{
    __shared__ float partial[GEMV_WARPS][GEMV_MAX_M];
    int warpInBlock = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int n = blockIdx.x * (GEMV_WARPS / splits) + warpInBlock / splits;
    bool active = n < N;
    float acc[M];
    gemv_column<M>(W, X, n, active, K, splits, acc, partial);
    if (active && lane == 0 && warpInBlock % splits == 0)
    {
#pragma unroll
        for (int m = 0; m < M; m++)
        {
            long long i = (long long)m * N + n;
            if (mode == 0) ((bf16*)Y)[i] = f2bf(acc[m]);
            else if (mode == 1) ((float*)Y)[i] = acc[m];
            else ((float*)Y)[i] += acc[m];
        }
    }
}

// splits: warps sharing one output column (1, 2, 4 or 8), each summing a slice of K; grid: ceil(N / (GEMV_WARPS / splits)).
extern "C" __global__ void __launch_bounds__(32 * GEMV_WARPS, 3) gemv_bf16(const bf16* __restrict__ W, const bf16* __restrict__ X,
                                                                        int M, int N, int K, void* __restrict__ Y, int mode, int splits)
{
    switch (M)
    {
    case 1: gemv_rows<1>(W, X, N, K, Y, mode, splits); break;
    case 2: gemv_rows<2>(W, X, N, K, Y, mode, splits); break;
    case 3: gemv_rows<3>(W, X, N, K, Y, mode, splits); break;
    case 4: gemv_rows<4>(W, X, N, K, Y, mode, splits); break;
    case 5: gemv_rows<5>(W, X, N, K, Y, mode, splits); break;
    case 6: gemv_rows<6>(W, X, N, K, Y, mode, splits); break;
    case 7: gemv_rows<7>(W, X, N, K, Y, mode, splits); break;
    default: gemv_rows<8>(W, X, N, K, Y, mode, splits); break;
    }
}
