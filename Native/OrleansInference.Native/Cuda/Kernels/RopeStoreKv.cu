// For each token: q, k, v = its row of the fused QKV product (+ bias when the model has one); q and k heads are
// rotated by the token's position (pairs (i, i + D/2), angle = position * invFreq[i], as transformers does), q is
// written to qOut[t] and k, v to the token's slot of the paged pool (slot = block * KV_BLOCK_SIZE + offset).
// grid: tokens, block: 128 (a multiple of HEAD_DIM / 2).
extern "C" __global__ void rope_store_kv(const bf16* __restrict__ qkv, const float* __restrict__ bias,
                                         const int* __restrict__ positions, const int* __restrict__ slots,
                                         const float* __restrict__ invFreq, bf16* __restrict__ qOut,
                                         bf16* __restrict__ pool, long long blockStride, long long layerOffset,
                                         long long planeStride, int numHeads)
{
    pdl_enter();
    const int D = HEAD_DIM, half = HEAD_DIM / 2;
    int t = blockIdx.x;
    float pos = (float)positions[t];
    int slot = slots[t];
    const bf16* row = qkv + (long long)t * (numHeads + 2 * KV_HEADS) * D;
    bf16* kDst = pool + (long long)(slot / KV_BLOCK_SIZE) * blockStride + layerOffset + (long long)(slot % KV_BLOCK_SIZE) * KV_HEADS * D;
    bf16* vDst = kDst + planeStride;
    bf16* qDst = qOut + (long long)t * numHeads * D;
    // Thread (group, j) computes frequency j's rotation once and applies it to heads group, group + groups, ...
    int groups = blockDim.x / half;
    int j = threadIdx.x % half, group = threadIdx.x / half;
    if (group < groups)
    {
        float s, c;
        sincosf(pos * invFreq[j], &s, &c);
        for (int head = group; head < numHeads + KV_HEADS; head += groups)
        {
            int e = head * D + j;
            float x1 = bf2f(row[e]), x2 = bf2f(row[e + half]);
            if (bias) { x1 += bias[e]; x2 += bias[e + half]; }
            float o1 = x1 * c - x2 * s, o2 = x2 * c + x1 * s;
            if (head < numHeads)
            {
                qDst[e] = f2bf(o1);
                qDst[e + half] = f2bf(o2);
            }
            else
            {
                int k = (head - numHeads) * D + j;
                kDst[k] = f2bf(o1);
                kDst[k + half] = f2bf(o2);
            }
        }
    }
    int vOff = (numHeads + KV_HEADS) * D;
    for (int i = threadIdx.x; i < KV_HEADS * D; i += blockDim.x)
    {
        float x = bf2f(row[vOff + i]);
        if (bias) x += bias[vOff + i];
        vDst[i] = f2bf(x);
    }
}
