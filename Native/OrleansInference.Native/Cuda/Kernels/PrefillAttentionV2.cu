// The prefill attention of PrefillAttention.cu, pipelined: K/V tiles stream into shared memory with cp.async
// (two stages, the next tile loading while this one is used; keys past the end are zero-filled), both kept
// row-major, and the MMA operands come from ldmatrix (V through its transposing form) instead of scalar loads.
// Dynamic shared memory: 2 stages x (K + V) x 64 rows x (HEAD_DIM + 8) bf16 (plus 4 KB of static table).

__device__ __forceinline__ u32 smem_addr(const void* p)
{
    u64 a;
    asm("cvta.to.shared.u64 %0, %1;" : "=l"(a) : "l"(p));
    return (u32)a;
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }

__device__ __forceinline__ void cp_async_wait1() { asm volatile("cp.async.wait_group 1;"); }

__device__ __forceinline__ void ldsm_x4(u32& r0, u32& r1, u32& r2, u32& r3, const void* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x2(u32& r0, u32& r1, const void* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];" : "=r"(r0), "=r"(r1) : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm_x4_t(u32& r0, u32& r1, u32& r2, u32& r3, const void* p)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(smem_addr(p)));
}

#define PF2_STAGE_ELEMS (2 * PF_KT * KS_STRIDE)

__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// Online softmax of one 16x64 score tile (raw q.k, scaled inside the exponent with one FFMA) and O += P.V.
// m0/m1 are the running row maxima in raw units; MASK applies the causal and row-validity mask.
template <bool MASK>
__device__ __forceinline__ void pf2_softmax_pv(float (&s)[PF_KT / 8][4], float (&o)[HEAD_DIM / 8][4], float& m0, float& m1,
                                               float& l0, float& l1, int kt0, int tig, bool v0, bool v1, int p0, int p1,
                                               float scaleLog2, const bf16* Vs, int lane)
{
    const int D = HEAD_DIM;
    float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
    for (int nt = 0; nt < PF_KT / 8; nt++)
    {
#pragma unroll
        for (int e = 0; e < 2; e++)
        {
            if (MASK)
            {
                int j = kt0 + nt * 8 + tig * 2 + e;
                if (!(v0 && j <= p0)) s[nt][e] = NEG_INF;
                if (!(v1 && j <= p1)) s[nt][2 + e] = NEG_INF;
            }
            mx0 = fmaxf(mx0, s[nt][e]);
            mx1 = fmaxf(mx1, s[nt][2 + e]);
        }
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
    float ref0 = mn0 == NEG_INF ? 0.0f : mn0 * scaleLog2, ref1 = mn1 == NEG_INF ? 0.0f : mn1 * scaleLog2;
    float c0 = fast_exp2(m0 * scaleLog2 - ref0), c1 = fast_exp2(m1 * scaleLog2 - ref1);
    m0 = mn0;
    m1 = mn1;
    l0 *= c0;
    l1 *= c1;
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++)
    {
        o[dt][0] *= c0; o[dt][1] *= c0;
        o[dt][2] *= c1; o[dt][3] *= c1;
    }

#pragma unroll
    for (int kk = 0; kk < PF_KT / 16; kk++)
    {
        float a00 = fast_exp2(fmaf(s[2 * kk][0], scaleLog2, -ref0)), a01 = fast_exp2(fmaf(s[2 * kk][1], scaleLog2, -ref0));
        float a10 = fast_exp2(fmaf(s[2 * kk][2], scaleLog2, -ref1)), a11 = fast_exp2(fmaf(s[2 * kk][3], scaleLog2, -ref1));
        float b00 = fast_exp2(fmaf(s[2 * kk + 1][0], scaleLog2, -ref0)), b01 = fast_exp2(fmaf(s[2 * kk + 1][1], scaleLog2, -ref0));
        float b10 = fast_exp2(fmaf(s[2 * kk + 1][2], scaleLog2, -ref1)), b11 = fast_exp2(fmaf(s[2 * kk + 1][3], scaleLog2, -ref1));
        l0 += a00 + a01 + b00 + b01;
        l1 += a10 + a11 + b10 + b11;
        u32 pa0 = pack_bf2(a00, a01), pa1 = pack_bf2(a10, a11), pa2 = pack_bf2(b00, b01), pa3 = pack_bf2(b10, b11);
        const bf16* vrow = Vs + (kk * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * KS_STRIDE + (lane >> 4) * 8;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt += 2)
        {
            u32 b0, b1, b2, b3;
            ldsm_x4_t(b0, b1, b2, b3, vrow + dt * 8);
            mma_bf16_16816(o[dt], pa0, pa1, pa2, pa3, b0, b1);
            mma_bf16_16816(o[dt + 1], pa0, pa1, pa2, pa3, b2, b3);
        }
    }
}

// The chunk's block-table entries are staged in shared memory (PF2_TABLE_CAP of them; longer contexts read the
// rest from global memory), so issuing a tile's copies never waits on a dependent global load.
#define PF2_TABLE_CAP 1024

// Each of the block's 128 threads copies one 16-byte chunk (column cc) of rows kr0, kr0 + PF2_ROWS_PER_PASS, ... of
// the tile: its column, KV head and layer offsets are fixed, so a row costs one table read, one 64-bit multiply-add
// and the two copies (Nsight Compute's source view of V3 had ~30% of the stall samples in this loop's address
// arithmetic when every chunk recomputed its row, column and offsets). Keys past maxPos are zero-filled. Head sizes
// whose chunks do not tile 128 threads and 64 rows evenly (e.g. 96) take the general loop.
#define PF2_CHUNKS (HEAD_DIM / 8)
#define PF2_ROWS_PER_PASS (128 / PF2_CHUNKS)

__device__ __forceinline__ void pf2_load_tile(bf16* stage, int kt0, int maxPos, const int* table, const int* sTable, const bf16* pool,
                                              long long blockStride, long long layerOffset, long long planeStride, int g)
{
    const int D = HEAD_DIM;
#if (128 % PF2_CHUNKS == 0) && (PF_KT % (128 / PF2_CHUNKS) == 0)
    int cc = threadIdx.x % PF2_CHUNKS, kr0 = threadIdx.x / PF2_CHUNKS;
    const bf16* base = pool + layerOffset + g * D + cc * 8;
    bf16* dst = stage + kr0 * KS_STRIDE + cc * 8;
#pragma unroll
    for (int pass = 0; pass < PF_KT / PF2_ROWS_PER_PASS; pass++)
    {
        int j = kt0 + kr0 + pass * PF2_ROWS_PER_PASS;
        bool valid = j <= maxPos;
        int b = j / KV_BLOCK_SIZE;
        int block = valid ? (b < PF2_TABLE_CAP ? sTable[b] : table[b]) : 0;
        const bf16* src = base + (long long)block * blockStride + (j % KV_BLOCK_SIZE) * (KV_HEADS * D);
        bf16* kd = dst + pass * PF2_ROWS_PER_PASS * KS_STRIDE;
        cp_async16(kd, src, valid);
        cp_async16(kd + PF_KT * KS_STRIDE, src + planeStride, valid);
    }
#else
    for (int c = threadIdx.x; c < PF_KT * PF2_CHUNKS; c += blockDim.x)
    {
        int kr = c / PF2_CHUNKS, cc = c - kr * PF2_CHUNKS;
        int j = kt0 + kr;
        bool valid = j <= maxPos;
        int b = j / KV_BLOCK_SIZE;
        int block = valid ? (b < PF2_TABLE_CAP ? sTable[b] : table[b]) : 0;
        const bf16* src = pool + (long long)block * blockStride + layerOffset + ((long long)(j % KV_BLOCK_SIZE) * KV_HEADS + g) * D + cc * 8;
        cp_async16(stage + kr * KS_STRIDE + cc * 8, src, valid);
        cp_async16(stage + PF_KT * KS_STRIDE + kr * KS_STRIDE + cc * 8, src + planeStride, valid);
    }
#endif
    cp_async_commit();
}

// The tile list, chunk table and block table are the step's inputs, uploaded before the previous kernel ran, so they
// are read before the programmatic-launch wait; q and the pages are written by that kernel and read after it.
extern "C" __global__ void __launch_bounds__(128, 4) paged_prefill_attention_v2(
    const bf16* __restrict__ q, const int* __restrict__ tiles, const int* __restrict__ chunks,
    const int* __restrict__ blockTables, const int* __restrict__ tableStride,
    const bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride,
    int numHeads, float scaleLog2, bf16* __restrict__ out)
{
    const int D = HEAD_DIM;
    extern __shared__ __align__(16) unsigned char pf2_smem[];
    bf16* smem = (bf16*)pf2_smem;
    __shared__ int sTable[PF2_TABLE_CAP];

    int h = blockIdx.x, g = h / GQA_GROUP;
    PrefillTile pt = prefill_tile(tiles, chunks, blockTables, tableStride);
    int q0 = pt.q0, tok0 = pt.tok0, startPos = pt.startPos, len = pt.len;
    const int* table = pt.table;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gid = lane >> 2, tig = lane & 3;
    int r0 = q0 + warp * 16 + gid, r1 = r0 + 8;
    bool v0 = r0 < len, v1 = r1 < len;
    int p0 = startPos + r0, p1 = startPos + r1;
    int maxPos = startPos + min(q0 + PF_QT, len) - 1;
    int warpMaxPos = startPos + min(q0 + warp * 16 + 15, len - 1);
    int numTiles = maxPos / PF_KT + 1;
    for (int b = threadIdx.x; b <= min(maxPos / KV_BLOCK_SIZE, PF2_TABLE_CAP - 1); b += blockDim.x) sTable[b] = table[b];
    __syncthreads();
    pdl_enter();

    pf2_load_tile(smem, 0, maxPos, table, sTable, pool, blockStride, layerOffset, planeStride, g);

    u32 qa[D / 16][4];
    load_q_frags(qa, q, tok0, r0, r1, v0, v1, h, numHeads, tig);

    float o[D / 8][4];
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.0f, l1 = 0.0f;

    for (int it = 0; it < numTiles; it++)
    {
        if (it + 1 < numTiles)
            pf2_load_tile(smem + ((it + 1) & 1) * PF2_STAGE_ELEMS, (it + 1) * PF_KT, maxPos, table, sTable, pool, blockStride, layerOffset, planeStride, g);
        else
            cp_async_commit();
        cp_async_wait1();
        __syncthreads();

        int kt0 = it * PF_KT;
        const bf16* Ks = smem + (it & 1) * PF2_STAGE_ELEMS;
        const bf16* Vs = Ks + PF_KT * KS_STRIDE;
        if (kt0 <= warpMaxPos)
        {
            float s[PF_KT / 8][4];
#pragma unroll
            for (int nt = 0; nt < PF_KT / 8; nt++)
            {
                s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
                const bf16* row = Ks + (nt * 8 + (lane & 7)) * KS_STRIDE + (lane >> 3) * 8;
#pragma unroll
                for (int kk = 0; kk < D / 16; kk += 2)
                {
                    if (kk + 1 < D / 16)
                    {
                        u32 b0, b1, b2, b3;
                        ldsm_x4(b0, b1, b2, b3, row + kk * 16);
                        mma_bf16_16816(s[nt], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], b0, b1);
                        mma_bf16_16816(s[nt], qa[kk + 1][0], qa[kk + 1][1], qa[kk + 1][2], qa[kk + 1][3], b2, b3);
                    }
                    else
                    {
                        u32 b0, b1;
                        ldsm_x2(b0, b1, Ks + (nt * 8 + (lane & 7)) * KS_STRIDE + ((lane >> 3) & 1) * 8 + kk * 16);
                        mma_bf16_16816(s[nt], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], b0, b1);
                    }
                }
            }

            // Only tiles reaching past this warp's first query position, or warps with rows past the chunk's
            // end, need the causal mask.
            if (kt0 + PF_KT - 1 > startPos + q0 + warp * 16 || q0 + warp * 16 + 15 >= len)
                pf2_softmax_pv<true>(s, o, m0, m1, l0, l1, kt0, tig, v0, v1, p0, p1, scaleLog2, Vs, lane);
            else
                pf2_softmax_pv<false>(s, o, m0, m1, l0, l1, kt0, tig, v0, v1, p0, p1, scaleLog2, Vs, lane);
        }
        __syncthreads();
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    if (v0)
    {
        bf16* op = out + ((long long)(tok0 + r0) * numHeads + h) * D + tig * 2;
        float inv = 1.0f / l0;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) *(u32*)(op + dt * 8) = pack_bf2(o[dt][0] * inv, o[dt][1] * inv);
    }
    if (v1)
    {
        bf16* op = out + ((long long)(tok0 + r1) * numHeads + h) * D + tig * 2;
        float inv = 1.0f / l1;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) *(u32*)(op + dt * 8) = pack_bf2(o[dt][2] * inv, o[dt][3] * inv);
    }
}
