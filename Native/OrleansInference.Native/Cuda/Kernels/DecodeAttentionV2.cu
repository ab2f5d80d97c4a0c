// paged_decode_attention, merging its splits itself (the last block of a sequence's KV head to finish does it, so
// no second kernel runs) and with the split's block-table entries staged in shared memory first (K/V loads never wait
// on a table load) and registers capped for 4 blocks (16 warps) per SM: the first version's 155 registers allowed 3,
// an 8-deep unroll's 192 only 2, and occupancy is what keeps enough bytes in flight (Nsight Compute, H100).
#define DEC2_UNROLL 4

// CG: through L2 only (the persistent kernel); otherwise an ordinary load.
template <bool CG>
__device__ __forceinline__ uint4 dec2_load(const void* p)
{
    return CG ? load_l2((const uint4*)p) : *(const uint4*)p;
}
#define DEC2_TABLE_CAP 1024
#define DEC2_PREFETCH_MAX_SEQS 8
#define DEC2_MERGE_BATCH 16


// Stages the block-table entries of keys [start, end) in shared memory (sTable: DEC2_TABLE_CAP entries; any beyond are
// read from `table`), so key addresses never wait on a dependent global load; returns the first entry's index. Every
// thread of the block calls it; it ends with a barrier.
__device__ __forceinline__ int dec2_stage_table(int* sTable, const int* table, int start, int end)
{
    int firstBlock = start / KV_BLOCK_SIZE;
    int blocks = end > start ? (end - 1) / KV_BLOCK_SIZE - firstBlock + 1 : 0;
    for (int b = threadIdx.x; b < min(blocks, DEC2_TABLE_CAP); b += blockDim.x) sTable[b] = table[firstBlock + b];
    __syncthreads();
    return firstBlock;
}

// Element offset of key j's K row for KV head g in the layer (V is planeStride further).
__device__ __forceinline__ long long dec2_key(const int* sTable, const int* table, int firstBlock, int j, long long blockStride,
                                              long long layerOffset, int g)
{
    int b = j / KV_BLOCK_SIZE - firstBlock;
    int block = b < DEC2_TABLE_CAP ? sTable[b] : table[firstBlock + b];
    return (long long)block * blockStride + layerOffset + ((long long)(j % KV_BLOCK_SIZE) * KV_HEADS + g) * HEAD_DIM;
}

// Pulls the K and V rows of keys [start, end) for KV head g into L2 (one prefetch per 128-byte line).
__device__ __forceinline__ void dec2_prefetch_keys(const int* sTable, const int* table, int firstBlock, int start, int end, const bf16* pool,
                                                   long long blockStride, long long layerOffset, long long planeStride, int g)
{
    for (int j = start + threadIdx.x; j < end; j += blockDim.x)
    {
        const char* kp = (const char*)(pool + dec2_key(sTable, table, firstBlock, j, blockStride, layerOffset, g));
        for (int off = 0; off < HEAD_DIM * 2; off += 128)
        {
            asm volatile("prefetch.global.L2 [%0];" ::"l"(kp + off));
            asm volatile("prefetch.global.L2 [%0];" ::"l"(kp + planeStride * 2 + off));
        }
    }
}

// One block's split of one (sequence, KV head g): keys [start, end) of the split `split` of numSplits, the block's
// WARPS warps sharing them and every query head of the group using each K/V row while it is in registers; the block
// combines its warps, then writes the output itself (one split) or its partial, and the last split block of the
// (sequence, KV head) — counted in *counter, re-armed after — merges all splits by their log-sum-exp. Partials are
// indexed (split · numSeqs + seq) · numHeads + head. CG: q and K/V read through L2 only.
template <int WARPS, bool CG>
__device__ __forceinline__ void dec2_split_block(const bf16* q, int row, const int* sTable, const int* table, int firstBlock, int start, int end,
                                                 const bf16* pool, long long blockStride, long long layerOffset, long long planeStride,
                                                 int numHeads, float scaleLog2, float* partO, float* partML, int* counter, bf16* out,
                                                 int g, int split, int numSplits, int seq, int numSeqs)
{
    const int D = HEAD_DIM, G = GQA_GROUP;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int kgrp = lane / LPK, dpart = lane % LPK;

    float qr[G][8];
#pragma unroll
    for (int h = 0; h < G; h++)
    {
        uint4 v = dec2_load<CG>(q + ((long long)row * numHeads + g * G + h) * D + dpart * 8);
        qr[h][0] = bf_lo(v.x) * scaleLog2; qr[h][1] = bf_hi(v.x) * scaleLog2;
        qr[h][2] = bf_lo(v.y) * scaleLog2; qr[h][3] = bf_hi(v.y) * scaleLog2;
        qr[h][4] = bf_lo(v.z) * scaleLog2; qr[h][5] = bf_hi(v.z) * scaleLog2;
        qr[h][6] = bf_lo(v.w) * scaleLog2; qr[h][7] = bf_hi(v.w) * scaleLog2;
    }

    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int h = 0; h < G; h++)
    {
        m[h] = NEG_INF;
        l[h] = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; i++) acc[h][i] = 0.0f;
    }

    for (int base = start + warp * KPW * DEC2_UNROLL; base < end; base += WARPS * KPW * DEC2_UNROLL)
    {
        uint4 kv[DEC2_UNROLL], vv[DEC2_UNROLL];
#pragma unroll
        for (int u = 0; u < DEC2_UNROLL; u++)
        {
            int j = base + u * KPW + kgrp;
            if (j < end)
            {
                const bf16* kp = pool + dec2_key(sTable, table, firstBlock, j, blockStride, layerOffset, g) + dpart * 8;
                kv[u] = dec2_load<CG>(kp);
                vv[u] = dec2_load<CG>(kp + planeStride);
            }
            else
            {
                kv[u] = make_uint4(0, 0, 0, 0);
                vv[u] = make_uint4(0, 0, 0, 0);
            }
        }

        float sc[DEC2_UNROLL][G];
#pragma unroll
        for (int u = 0; u < DEC2_UNROLL; u++)
        {
            float k[8] = {bf_lo(kv[u].x), bf_hi(kv[u].x), bf_lo(kv[u].y), bf_hi(kv[u].y),
                          bf_lo(kv[u].z), bf_hi(kv[u].z), bf_lo(kv[u].w), bf_hi(kv[u].w)};
            bool valid = base + u * KPW + kgrp < end;
#pragma unroll
            for (int h = 0; h < G; h++)
            {
                float s = 0.0f;
#pragma unroll
                for (int i = 0; i < 8; i++) s += qr[h][i] * k[i];
#pragma unroll
                for (int o = 1; o < LPK; o <<= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
                sc[u][h] = valid ? s : NEG_INF;
            }
        }

#pragma unroll
        for (int h = 0; h < G; h++)
        {
            float mx = sc[0][h];
#pragma unroll
            for (int u = 1; u < DEC2_UNROLL; u++) mx = fmaxf(mx, sc[u][h]);
#pragma unroll
            for (int o = LPK; o < 32; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            float mNew = fmaxf(m[h], mx);  // finite: the warp's first key of this step is valid
            float corr = exp2f(m[h] - mNew);
            m[h] = mNew;
            l[h] *= corr;
#pragma unroll
            for (int i = 0; i < 8; i++) acc[h][i] *= corr;
#pragma unroll
            for (int u = 0; u < DEC2_UNROLL; u++)
            {
                float p = exp2f(sc[u][h] - mNew);
                l[h] += p;
                acc[h][0] += p * bf_lo(vv[u].x); acc[h][1] += p * bf_hi(vv[u].x);
                acc[h][2] += p * bf_lo(vv[u].y); acc[h][3] += p * bf_hi(vv[u].y);
                acc[h][4] += p * bf_lo(vv[u].z); acc[h][5] += p * bf_hi(vv[u].z);
                acc[h][6] += p * bf_lo(vv[u].w); acc[h][7] += p * bf_hi(vv[u].w);
            }
        }
    }

    // Lanes of different keys hold partial sums of the same dims: add them up (m is uniform across the warp).
#pragma unroll
    for (int h = 0; h < G; h++)
    {
#pragma unroll
        for (int o = LPK; o < 32; o <<= 1)
        {
            l[h] += __shfl_xor_sync(0xffffffffu, l[h], o);
#pragma unroll
            for (int i = 0; i < 8; i++) acc[h][i] += __shfl_xor_sync(0xffffffffu, acc[h][i], o);
        }
    }

    __shared__ float sM[WARPS][G], sL[WARPS][G];
    __shared__ float sAcc[WARPS][G][HEAD_DIM];
    if (kgrp == 0)
    {
#pragma unroll
        for (int h = 0; h < G; h++)
        {
#pragma unroll
            for (int i = 0; i < 8; i++) sAcc[warp][h][dpart * 8 + i] = acc[h][i];
            if (dpart == 0) { sM[warp][h] = m[h]; sL[warp][h] = l[h]; }
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < G * D; e += blockDim.x)
    {
        int h = e / D, d = e - h * D;
        float M = NEG_INF;
#pragma unroll
        for (int w = 0; w < WARPS; w++) M = fmaxf(M, sM[w][h]);
        float L = 0.0f, O = 0.0f;
        if (M != NEG_INF)
        {
#pragma unroll
            for (int w = 0; w < WARPS; w++)
            {
                float f = exp2f(sM[w][h] - M);
                L += sL[w][h] * f;
                O += sAcc[w][h][d] * f;
            }
        }
        if (numSplits == 1)
        {
            out[((long long)row * numHeads + g * G + h) * D + d] = f2bf(L > 0.0f ? O / L : 0.0f);
        }
        else
        {
            long long idx = ((long long)split * numSeqs + seq) * numHeads + g * G + h;
            partO[idx * D + d] = O;
            if (d == 0) { partML[2 * idx] = M; partML[2 * idx + 1] = L; }
        }
    }
    if (numSplits == 1) return;

    // The last of the (seq, KV head)'s split blocks to finish merges all splits by their log-sum-exp, then
    // re-arms the counter for the next launch (a graph replays this kernel with the same counters).
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(counter, 1) == numSplits - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    for (int e = threadIdx.x; e < G * D; e += blockDim.x)
    {
        int h = e / D, d = e - h * D;
        float M = NEG_INF, L = 0.0f, O = 0.0f;
        for (int s0 = 0; s0 < numSplits; s0 += DEC2_MERGE_BATCH)
        {
            // A batch of splits' partials loaded before any is used: one round trip to L2 per batch instead of a chain
            // of ordered loads, each waited for by the sum after it.
            float pm[DEC2_MERGE_BATCH], pl[DEC2_MERGE_BATCH], po[DEC2_MERGE_BATCH];
#pragma unroll
            for (int u = 0; u < DEC2_MERGE_BATCH; u++)
            {
                long long idx = ((long long)min(s0 + u, numSplits - 1) * numSeqs + seq) * numHeads + g * G + h;
                pm[u] = load_l2(partML + 2 * idx);
                pl[u] = load_l2(partML + 2 * idx + 1);
                po[u] = load_l2(partO + idx * D + d);
            }
            float mNew = M;
#pragma unroll
            for (int u = 0; u < DEC2_MERGE_BATCH; u++)
                if (s0 + u < numSplits) mNew = fmaxf(mNew, pm[u]);
            if (mNew == NEG_INF) continue;
            float corr = exp2f(M - mNew);
            L *= corr;
            O *= corr;
#pragma unroll
            for (int u = 0; u < DEC2_MERGE_BATCH; u++)
            {
                if (s0 + u < numSplits)
                {
                    float f = exp2f(pm[u] - mNew);
                    L += pl[u] * f;
                    O += po[u] * f;
                }
            }
            M = mNew;
        }
        out[((long long)row * numHeads + g * G + h) * D + d] = f2bf(L > 0.0f ? O / L : 0.0f);
    }
    if (threadIdx.x == 0) *counter = 0;
}

// paged_decode_attention over (split, KV head, sequence) blocks of 4 warps. grid: (splits, KV heads, sequences), block 128.
extern "C" __global__ void __launch_bounds__(128, 4) paged_decode_attention_v2(
    const bf16* __restrict__ q, const int* __restrict__ rowOf, const int* __restrict__ ctxLens,
    const int* __restrict__ blockTables, const int* __restrict__ tableStride,
    const bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride,
    int numHeads, float scaleLog2, float* __restrict__ partO, float* __restrict__ partML,
    int* __restrict__ doneCounters, bf16* __restrict__ out)
{
    int split = blockIdx.x, numSplits = gridDim.x, g = blockIdx.y, seq = blockIdx.z, numSeqs = gridDim.z;
    int ctx = ctxLens[seq];
    const int* table = blockTables + (long long)seq * tableStride[0];
    int per = (ctx + numSplits - 1) / numSplits;
    int start = split * per, end = min(ctx, start + per);
    int row = rowOf[seq];
    __shared__ int sTable[DEC2_TABLE_CAP];
    int firstBlock = dec2_stage_table(sTable, table, start, end);

    // Tables, lengths and the keys of earlier steps do not depend on the kernel before this one (which writes only
    // this step's q, k and v): they are read, and at small batches the split's K/V rows pulled into L2, while that
    // kernel finishes. (At batch 64-256 the prefetch cost 10-20% of the step on the H100: the KV does not fit in L2.)
    if (numSeqs <= DEC2_PREFETCH_MAX_SEQS) dec2_prefetch_keys(sTable, table, firstBlock, start, end, pool, blockStride, layerOffset, planeStride, g);
    pdl_enter();
    dec2_split_block<DEC_WARPS, false>(q, row, sTable, table, firstBlock, start, end, pool, blockStride, layerOffset, planeStride, numHeads,
                                       scaleLog2, partO, partML, doneCounters + seq * KV_HEADS + g, out, g, split, numSplits, seq, numSeqs);
}
