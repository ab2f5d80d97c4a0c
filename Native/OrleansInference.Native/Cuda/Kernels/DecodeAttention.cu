// Paged attention for single-token queries (decode). One thread block per (split, KV head, sequence): the block's
// 4 warps stream that head's K/V over the split's share of the context once, and every query head of the GQA
// group uses each K/V row while it is in registers. Each lane holds 8 dims (16 bytes) of one key; LPK lanes make a
// key, KPW keys are read per warp step, DEC_UNROLL steps are in flight at once. Online softmax in the log2 domain;
// the block writes its unnormalized output and (max, sum) per head, merged across splits by decode_merge.
#define DEC_WARPS 4
#define LPK (HEAD_DIM / 8)
#define KPW (32 / LPK)
#define DEC_UNROLL 4

extern "C" __global__ void __launch_bounds__(128) paged_decode_attention(
    const bf16* __restrict__ q, const int* __restrict__ rowOf, const int* __restrict__ ctxLens,
    const int* __restrict__ blockTables, const int* __restrict__ tableStride,
    const bf16* __restrict__ pool, long long blockStride, long long layerOffset, long long planeStride,
    int numHeads, float scaleLog2, float* __restrict__ partO, float* __restrict__ partML)
{
    pdl_enter();
    const int D = HEAD_DIM, G = GQA_GROUP;
    int split = blockIdx.x, numSplits = gridDim.x, g = blockIdx.y, seq = blockIdx.z, numSeqs = gridDim.z;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int kgrp = lane / LPK, dpart = lane % LPK;
    int ctx = ctxLens[seq];
    const int* table = blockTables + (long long)seq * tableStride[0];
    int per = (ctx + numSplits - 1) / numSplits;
    int start = split * per, end = min(ctx, start + per);
    int row = rowOf[seq];

    float qr[G][8];
#pragma unroll
    for (int h = 0; h < G; h++)
    {
        uint4 v = *(const uint4*)(q + ((long long)row * numHeads + g * G + h) * D + dpart * 8);
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

    for (int base = start + warp * KPW * DEC_UNROLL; base < end; base += DEC_WARPS * KPW * DEC_UNROLL)
    {
        uint4 kv[DEC_UNROLL], vv[DEC_UNROLL];
#pragma unroll
        for (int u = 0; u < DEC_UNROLL; u++)
        {
            int j = base + u * KPW + kgrp;
            if (j < end)
            {
                const bf16* kp = pool + kv_offset(table, j, blockStride, layerOffset, g) + dpart * 8;
                kv[u] = *(const uint4*)kp;
                vv[u] = *(const uint4*)(kp + planeStride);
            }
            else
            {
                kv[u] = make_uint4(0, 0, 0, 0);
                vv[u] = make_uint4(0, 0, 0, 0);
            }
        }

        float sc[DEC_UNROLL][G];
#pragma unroll
        for (int u = 0; u < DEC_UNROLL; u++)
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
            for (int u = 1; u < DEC_UNROLL; u++) mx = fmaxf(mx, sc[u][h]);
#pragma unroll
            for (int o = LPK; o < 32; o <<= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
            float mNew = fmaxf(m[h], mx);  // finite: the warp's first key of this step is valid
            float corr = exp2f(m[h] - mNew);
            m[h] = mNew;
            l[h] *= corr;
#pragma unroll
            for (int i = 0; i < 8; i++) acc[h][i] *= corr;
#pragma unroll
            for (int u = 0; u < DEC_UNROLL; u++)
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

    __shared__ float sM[DEC_WARPS][G], sL[DEC_WARPS][G];
    __shared__ float sAcc[DEC_WARPS][G][HEAD_DIM];
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
        for (int w = 0; w < DEC_WARPS; w++) M = fmaxf(M, sM[w][h]);
        float L = 0.0f, O = 0.0f;
        if (M != NEG_INF)
        {
#pragma unroll
            for (int w = 0; w < DEC_WARPS; w++)
            {
                float f = exp2f(sM[w][h] - M);
                L += sL[w][h] * f;
                O += sAcc[w][h][d] * f;
            }
        }
        long long idx = ((long long)split * numSeqs + seq) * numHeads + g * G + h;
        partO[idx * D + d] = O;
        if (d == 0) { partML[2 * idx] = M; partML[2 * idx + 1] = L; }
    }
}

// out[rowOf[seq], head] = the splits' partial outputs merged by their log-sum-exp. grid: (seqs, heads), block: HEAD_DIM.
extern "C" __global__ void decode_merge(const float* __restrict__ partO, const float* __restrict__ partML,
                                        const int* __restrict__ rowOf, int numSplits, int numSeqs, int numHeads,
                                        bf16* __restrict__ out)
{
    pdl_enter();
    int seq = blockIdx.x, h = blockIdx.y, d = threadIdx.x;
    float M = NEG_INF;
    for (int s = 0; s < numSplits; s++) M = fmaxf(M, partML[2 * (((long long)s * numSeqs + seq) * numHeads + h)]);
    float L = 0.0f, O = 0.0f;
    if (M != NEG_INF)
    {
        for (int s = 0; s < numSplits; s++)
        {
            long long idx = ((long long)s * numSeqs + seq) * numHeads + h;
            float f = exp2f(partML[2 * idx] - M);
            L += partML[2 * idx + 1] * f;
            O += partO[idx * HEAD_DIM + d] * f;
        }
    }
    out[((long long)rowOf[seq] * numHeads + h) * HEAD_DIM + d] = f2bf(L > 0.0f ? O / L : 0.0f);
}
