// Causal attention over paged K/V for multi-token chunks (prefill, chunked prefill, prefix-cache hits): the
// chunk's own K/V are already in the pages, so queries at positions [start, start + len) attend to keys
// [0, position]. One thread block per (64-query tile of one chunk, query head); each of its 4 warps owns 16 query
// rows and runs a flash-attention loop with bf16 tensor-core MMAs (m16n8k16, fp32 accumulation) over 64-key tiles
// staged in shared memory (K row-major, V transposed, rows padded against bank conflicts). Grid: (heads, tiles).
#define PF_KT 64
#define PF_QT 64
#define KS_STRIDE (HEAD_DIM + 8)
#define VT_STRIDE (PF_KT + 8)

__device__ __forceinline__ void mma_bf16_16816(float* c, u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// A prefill tile's place: its chunk's first token row in the step, start position, length and block-table row, and
// the tile's first query row within the chunk.
struct PrefillTile
{
    int q0, tok0, startPos, len;
    const int* table;
};

__device__ __forceinline__ PrefillTile prefill_tile(const int* tiles, const int* chunks, const int* blockTables, const int* tableStride)
{
    int chunk = tiles[2 * blockIdx.y];
    PrefillTile t;
    t.q0 = tiles[2 * blockIdx.y + 1];
    t.tok0 = chunks[4 * chunk];
    t.startPos = chunks[4 * chunk + 1];
    t.len = chunks[4 * chunk + 2];
    t.table = blockTables + (long long)chunks[4 * chunk + 3] * tableStride[0];
    return t;
}

// The MMA A fragments of query rows r0 and r1 (zero for a row past the chunk, v false) of head h.
__device__ __forceinline__ void load_q_frags(u32 (&qa)[HEAD_DIM / 16][4], const bf16* q, int tok0, int r0, int r1, bool v0, bool v1,
                                             int h, int numHeads, int tig)
{
    const bf16* q0p = q + ((long long)(tok0 + r0) * numHeads + h) * HEAD_DIM + tig * 2;
    const bf16* q1p = q + ((long long)(tok0 + r1) * numHeads + h) * HEAD_DIM + tig * 2;
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; kk++)
    {
        qa[kk][0] = v0 ? *(const u32*)(q0p + kk * 16) : 0u;
        qa[kk][1] = v1 ? *(const u32*)(q1p + kk * 16) : 0u;
        qa[kk][2] = v0 ? *(const u32*)(q0p + kk * 16 + 8) : 0u;
        qa[kk][3] = v1 ? *(const u32*)(q1p + kk * 16 + 8) : 0u;
    }
}

// tiles[2i] = chunk, tiles[2i+1] = first query row of the tile within the chunk.
// chunks[4c] = the chunk's first token row in the step, [4c+1] = start position, [4c+2] = length, [4c+3] = its block-table row.
extern "C" __global__ void __launch_bounds__(128) paged_prefill_attention(
    const bf16* __restrict__ q, const int* __restrict__ tiles, const int* __restrict__ chunks,
    const int* __restrict__ blockTables, const int* __restrict__ tableStride,
    const bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride,
    int numHeads, float scaleLog2, bf16* __restrict__ out)
{
    pdl_enter();
    const int D = HEAD_DIM;
    __shared__ __align__(16) bf16 Ks[PF_KT * KS_STRIDE];
    __shared__ __align__(16) bf16 Vt[HEAD_DIM * VT_STRIDE];

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

    u32 qa[D / 16][4];
    load_q_frags(qa, q, tok0, r0, r1, v0, v1, h, numHeads, tig);

    float o[D / 8][4];
#pragma unroll
    for (int dt = 0; dt < D / 8; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
    float m0 = NEG_INF, m1 = NEG_INF, l0 = 0.0f, l1 = 0.0f;

    for (int kt0 = 0; kt0 <= maxPos; kt0 += PF_KT)
    {
        __syncthreads();
        for (int c = threadIdx.x; c < PF_KT * (D / 8); c += blockDim.x)
        {
            int kr = c / (D / 8), cc = c - kr * (D / 8);
            int j = kt0 + kr;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
            if (j <= maxPos)
            {
                const bf16* kp = pool + kv_offset(table, j, blockStride, layerOffset, g) + cc * 8;
                kv = *(const uint4*)kp;
                vv = *(const uint4*)(kp + planeStride);
            }
            *(uint4*)(Ks + kr * KS_STRIDE + cc * 8) = kv;
            bf16* vt = Vt + (cc * 8) * VT_STRIDE + kr;
            vt[0] = (bf16)(vv.x & 0xffffu); vt[VT_STRIDE] = (bf16)(vv.x >> 16);
            vt[2 * VT_STRIDE] = (bf16)(vv.y & 0xffffu); vt[3 * VT_STRIDE] = (bf16)(vv.y >> 16);
            vt[4 * VT_STRIDE] = (bf16)(vv.z & 0xffffu); vt[5 * VT_STRIDE] = (bf16)(vv.z >> 16);
            vt[6 * VT_STRIDE] = (bf16)(vv.w & 0xffffu); vt[7 * VT_STRIDE] = (bf16)(vv.w >> 16);
        }
        __syncthreads();
        if (kt0 > warpMaxPos) continue;  // every key of this tile is in the future of this warp's queries

        float s[PF_KT / 8][4];
#pragma unroll
        for (int nt = 0; nt < PF_KT / 8; nt++)
        {
            s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
            const bf16* kr = Ks + (nt * 8 + gid) * KS_STRIDE + tig * 2;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
            {
                u32 b0 = *(const u32*)(kr + kk * 16), b1 = *(const u32*)(kr + kk * 16 + 8);
                mma_bf16_16816(s[nt], qa[kk][0], qa[kk][1], qa[kk][2], qa[kk][3], b0, b1);
            }
        }

        float mx0 = NEG_INF, mx1 = NEG_INF;
#pragma unroll
        for (int nt = 0; nt < PF_KT / 8; nt++)
        {
#pragma unroll
            for (int e = 0; e < 2; e++)
            {
                int j = kt0 + nt * 8 + tig * 2 + e;
                s[nt][e] = (v0 && j <= p0) ? s[nt][e] * scaleLog2 : NEG_INF;
                s[nt][2 + e] = (v1 && j <= p1) ? s[nt][2 + e] * scaleLog2 : NEG_INF;
                mx0 = fmaxf(mx0, s[nt][e]);
                mx1 = fmaxf(mx1, s[nt][2 + e]);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
        float ref0 = mn0 == NEG_INF ? 0.0f : mn0, ref1 = mn1 == NEG_INF ? 0.0f : mn1;
        float c0 = exp2f(m0 - ref0), c1 = exp2f(m1 - ref1);
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
            float a00 = exp2f(s[2 * kk][0] - ref0), a01 = exp2f(s[2 * kk][1] - ref0);
            float a10 = exp2f(s[2 * kk][2] - ref1), a11 = exp2f(s[2 * kk][3] - ref1);
            float b00 = exp2f(s[2 * kk + 1][0] - ref0), b01 = exp2f(s[2 * kk + 1][1] - ref0);
            float b10 = exp2f(s[2 * kk + 1][2] - ref1), b11 = exp2f(s[2 * kk + 1][3] - ref1);
            l0 += a00 + a01 + b00 + b01;
            l1 += a10 + a11 + b10 + b11;
            u32 pa0 = pack_bf2(a00, a01), pa1 = pack_bf2(a10, a11), pa2 = pack_bf2(b00, b01), pa3 = pack_bf2(b10, b11);
#pragma unroll
            for (int dt = 0; dt < D / 8; dt++)
            {
                const bf16* vr = Vt + (dt * 8 + gid) * VT_STRIDE + kk * 16 + tig * 2;
                mma_bf16_16816(o[dt], pa0, pa1, pa2, pa3, *(const u32*)vr, *(const u32*)(vr + 8));
            }
        }
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
