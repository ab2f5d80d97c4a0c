// The prefill attention of PrefillAttentionV2.cu with 32 query rows per warp (two 16-row MMA tiles) and 128 per
// block. Nsight Compute showed V2 latency-bound (~0.5 IPC per scheduler, tensor pipe 9%): here every K and V fragment
// read from shared memory feeds two MMAs, and each warp carries two independent chains to interleave. Same tiles
// (64 keys, cp.async double buffering), same masking and online softmax; 2 blocks per SM for the registers.
#define PF3_QT 128

template <bool MASK>
__device__ __forceinline__ void pf3_softmax_pv(float (&s)[2][PF_KT / 8][4], float (&o)[2][HEAD_DIM / 8][4], float (&m)[2][2],
                                               float (&l)[2][2], int kt0, int tig, const bool (&v)[2][2], const int (&p)[2][2],
                                               float scaleLog2, const bf16* Vs, int lane)
{
    const int D = HEAD_DIM;
    float ref[2][2];
#pragma unroll
    for (int r = 0; r < 2; r++)
    {
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
                    if (!(v[r][0] && j <= p[r][0])) s[r][nt][e] = NEG_INF;
                    if (!(v[r][1] && j <= p[r][1])) s[r][nt][2 + e] = NEG_INF;
                }
                mx0 = fmaxf(mx0, s[r][nt][e]);
                mx1 = fmaxf(mx1, s[r][nt][2 + e]);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        float mn0 = fmaxf(m[r][0], mx0), mn1 = fmaxf(m[r][1], mx1);
        ref[r][0] = mn0 == NEG_INF ? 0.0f : mn0 * scaleLog2;
        ref[r][1] = mn1 == NEG_INF ? 0.0f : mn1 * scaleLog2;
        float c0 = fast_exp2(m[r][0] * scaleLog2 - ref[r][0]), c1 = fast_exp2(m[r][1] * scaleLog2 - ref[r][1]);
        m[r][0] = mn0;
        m[r][1] = mn1;
        l[r][0] *= c0;
        l[r][1] *= c1;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++)
        {
            o[r][dt][0] *= c0; o[r][dt][1] *= c0;
            o[r][dt][2] *= c1; o[r][dt][3] *= c1;
        }
    }

#pragma unroll
    for (int kk = 0; kk < PF_KT / 16; kk++)
    {
        u32 pa[2][4];
#pragma unroll
        for (int r = 0; r < 2; r++)
        {
            float a00 = fast_exp2(fmaf(s[r][2 * kk][0], scaleLog2, -ref[r][0])), a01 = fast_exp2(fmaf(s[r][2 * kk][1], scaleLog2, -ref[r][0]));
            float a10 = fast_exp2(fmaf(s[r][2 * kk][2], scaleLog2, -ref[r][1])), a11 = fast_exp2(fmaf(s[r][2 * kk][3], scaleLog2, -ref[r][1]));
            float b00 = fast_exp2(fmaf(s[r][2 * kk + 1][0], scaleLog2, -ref[r][0])), b01 = fast_exp2(fmaf(s[r][2 * kk + 1][1], scaleLog2, -ref[r][0]));
            float b10 = fast_exp2(fmaf(s[r][2 * kk + 1][2], scaleLog2, -ref[r][1])), b11 = fast_exp2(fmaf(s[r][2 * kk + 1][3], scaleLog2, -ref[r][1]));
            l[r][0] += a00 + a01 + b00 + b01;
            l[r][1] += a10 + a11 + b10 + b11;
            pa[r][0] = pack_bf2(a00, a01);
            pa[r][1] = pack_bf2(a10, a11);
            pa[r][2] = pack_bf2(b00, b01);
            pa[r][3] = pack_bf2(b10, b11);
        }
        const bf16* vrow = Vs + (kk * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * KS_STRIDE + (lane >> 4) * 8;
#pragma unroll
        for (int dt = 0; dt < D / 8; dt += 2)
        {
            u32 b0, b1, b2, b3;
            ldsm_x4_t(b0, b1, b2, b3, vrow + dt * 8);
#pragma unroll
            for (int r = 0; r < 2; r++)
            {
                mma_bf16_16816(o[r][dt], pa[r][0], pa[r][1], pa[r][2], pa[r][3], b0, b1);
                mma_bf16_16816(o[r][dt + 1], pa[r][0], pa[r][1], pa[r][2], pa[r][3], b2, b3);
            }
        }
    }
}

// Tiles of PF3_QT queries (tiles[2i] = chunk, tiles[2i+1] = first query row); otherwise the parameters of V2.
// grid: (heads, tiles), block: 128, dynamic shared memory as V2.
extern "C" __global__ void __launch_bounds__(128, 2) paged_prefill_attention_v3(
    const bf16* __restrict__ q, const int* __restrict__ tiles, const int* __restrict__ chunks,
    const int* __restrict__ blockTables, const int* __restrict__ tableStride,
    const bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride,
    int numHeads, float scaleLog2, bf16* __restrict__ out)
{
    const int D = HEAD_DIM;
    extern __shared__ __align__(16) unsigned char pf3_smem[];
    bf16* smem = (bf16*)pf3_smem;
    __shared__ int sTable[PF2_TABLE_CAP];

    int h = blockIdx.x, g = h / GQA_GROUP;
    PrefillTile pt = prefill_tile(tiles, chunks, blockTables, tableStride);
    int q0 = pt.q0, tok0 = pt.tok0, startPos = pt.startPos, len = pt.len;
    const int* table = pt.table;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gid = lane >> 2, tig = lane & 3;
    int rbase = q0 + warp * 32;
    int rows[2][2] = {{rbase + gid, rbase + gid + 8}, {rbase + 16 + gid, rbase + 24 + gid}};
    bool v[2][2];
    int p[2][2];
#pragma unroll
    for (int r = 0; r < 2; r++)
    {
#pragma unroll
        for (int i = 0; i < 2; i++)
        {
            v[r][i] = rows[r][i] < len;
            p[r][i] = startPos + rows[r][i];
        }
    }
    int maxPos = startPos + min(q0 + PF3_QT, len) - 1;
    int warpMaxPos = startPos + min(rbase + 31, len - 1);
    int numTiles = maxPos / PF_KT + 1;
    for (int b = threadIdx.x; b <= min(maxPos / KV_BLOCK_SIZE, PF2_TABLE_CAP - 1); b += blockDim.x) sTable[b] = table[b];
    __syncthreads();
    pdl_enter();  // the tables above are the step's inputs; q and the pages come from the previous kernel

    pf2_load_tile(smem, 0, maxPos, table, sTable, pool, blockStride, layerOffset, planeStride, g);

    u32 qa[2][D / 16][4];
#pragma unroll
    for (int r = 0; r < 2; r++) load_q_frags(qa[r], q, tok0, rows[r][0], rows[r][1], v[r][0], v[r][1], h, numHeads, tig);

    float o[2][D / 8][4];
    float m[2][2], l[2][2];
#pragma unroll
    for (int r = 0; r < 2; r++)
    {
#pragma unroll
        for (int dt = 0; dt < D / 8; dt++) o[r][dt][0] = o[r][dt][1] = o[r][dt][2] = o[r][dt][3] = 0.0f;
        m[r][0] = m[r][1] = NEG_INF;
        l[r][0] = l[r][1] = 0.0f;
    }

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
            float s[2][PF_KT / 8][4];
#pragma unroll
            for (int nt = 0; nt < PF_KT / 8; nt++)
            {
#pragma unroll
                for (int r = 0; r < 2; r++) s[r][nt][0] = s[r][nt][1] = s[r][nt][2] = s[r][nt][3] = 0.0f;
                const bf16* row = Ks + (nt * 8 + (lane & 7)) * KS_STRIDE + (lane >> 3) * 8;
#pragma unroll
                for (int kk = 0; kk < D / 16; kk += 2)
                {
                    if (kk + 1 < D / 16)
                    {
                        u32 b0, b1, b2, b3;
                        ldsm_x4(b0, b1, b2, b3, row + kk * 16);
#pragma unroll
                        for (int r = 0; r < 2; r++)
                        {
                            mma_bf16_16816(s[r][nt], qa[r][kk][0], qa[r][kk][1], qa[r][kk][2], qa[r][kk][3], b0, b1);
                            mma_bf16_16816(s[r][nt], qa[r][kk + 1][0], qa[r][kk + 1][1], qa[r][kk + 1][2], qa[r][kk + 1][3], b2, b3);
                        }
                    }
                    else
                    {
                        u32 b0, b1;
                        ldsm_x2(b0, b1, Ks + (nt * 8 + (lane & 7)) * KS_STRIDE + ((lane >> 3) & 1) * 8 + kk * 16);
#pragma unroll
                        for (int r = 0; r < 2; r++) mma_bf16_16816(s[r][nt], qa[r][kk][0], qa[r][kk][1], qa[r][kk][2], qa[r][kk][3], b0, b1);
                    }
                }
            }

            // Only tiles reaching past this warp's first query position, or warps with rows past the chunk's end,
            // need the causal mask.
            if (kt0 + PF_KT - 1 > startPos + rbase || rbase + 31 >= len)
                pf3_softmax_pv<true>(s, o, m, l, kt0, tig, v, p, scaleLog2, Vs, lane);
            else
                pf3_softmax_pv<false>(s, o, m, l, kt0, tig, v, p, scaleLog2, Vs, lane);
        }
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; r++)
    {
#pragma unroll
        for (int i = 0; i < 2; i++)
        {
            float sum = l[r][i];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            if (v[r][i])
            {
                bf16* op = out + ((long long)(tok0 + rows[r][i]) * numHeads + h) * D + tig * 2;
                float inv = 1.0f / sum;
#pragma unroll
                for (int dt = 0; dt < D / 8; dt++) *(u32*)(op + dt * 8) = pack_bf2(o[r][dt][2 * i] * inv, o[r][dt][2 * i + 1] * inv);
            }
        }
    }
}
