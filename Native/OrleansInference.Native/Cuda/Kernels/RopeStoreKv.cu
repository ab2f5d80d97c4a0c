// For each token: q, k, v = its row of the fused QKV product (+ bias when the model has one); q and k heads are
// rotated by the token's position (pairs (i, i + D/2), angle = position * invFreq[i], as transformers does), q is
// written to qOut[t] and k, v to the token's slot of the paged pool (slot = block * KV_BLOCK_SIZE + offset).
// Each thread rotates two neighbouring frequencies with 32-bit loads and stores, the v part moves in 16-byte pieces
// (one bf16 at a time reached 30% of DRAM bandwidth on a 2,048-token prefill). HEAD_DIM % 8 == 0.
// grid: tokens, block: 128.
#define RSK_HEADS ((GQA_GROUP + 1) * KV_HEADS)
#define RSK_GROUPS (128 / (HEAD_DIM / 4))
extern "C" __global__ void rope_store_kv(const bf16* __restrict__ qkv, const float* __restrict__ bias,
                                              const int* __restrict__ positions, const int* __restrict__ slots,
                                              const float* __restrict__ invFreq, bf16* __restrict__ qOut,
                                              bf16* __restrict__ pool, long long blockStride, long long layerOffset,
                                              long long planeStride, int numHeads)
{
    pdl_enter();
    const int D = HEAD_DIM, half = HEAD_DIM / 2, pairs = HEAD_DIM / 4;
    int t = blockIdx.x;
    float pos = (float)positions[t];
    int slot = slots[t];
    const bf16* row = qkv + (long long)t * (numHeads + 2 * KV_HEADS) * D;
    bf16* kDst = pool + (long long)(slot / KV_BLOCK_SIZE) * blockStride + layerOffset + (long long)(slot % KV_BLOCK_SIZE) * KV_HEADS * D;
    bf16* vDst = kDst + planeStride;
    bf16* qDst = qOut + (long long)t * numHeads * D;
    int groups = blockDim.x / pairs;
    int jp = threadIdx.x % pairs, group = threadIdx.x / pairs, j = 2 * jp;
    if (group < groups)
    {
        // All of the thread's q/k loads are issued before the first rotation waits on one (the head count is known
        // at compile time for the unrolled bound; numHeads may be smaller on a tensor-parallel shard).
        const int maxIter = (RSK_HEADS + RSK_GROUPS - 1) / RSK_GROUPS;
        u32 la[maxIter], lb[maxIter];
#pragma unroll
        for (int i = 0; i < maxIter; i++)
        {
            int head = group + i * groups;
            bool in = head < numHeads + KV_HEADS;
            la[i] = in ? *(const u32*)(row + head * D + j) : 0u;
            lb[i] = in ? *(const u32*)(row + head * D + j + half) : 0u;
        }
        float s0, c0, s1, c1;
        sincosf(pos * invFreq[j], &s0, &c0);
        sincosf(pos * invFreq[j + 1], &s1, &c1);
#pragma unroll
        for (int i = 0; i < maxIter; i++)
        {
            int head = group + i * groups;
            if (head >= numHeads + KV_HEADS) break;
            int e = head * D + j;
            u32 a = la[i], b = lb[i];
            float x1 = bf_lo(a), y1 = bf_hi(a), x2 = bf_lo(b), y2 = bf_hi(b);
            if (bias)
            {
                x1 += bias[e]; y1 += bias[e + 1];
                x2 += bias[e + half]; y2 += bias[e + half + 1];
            }
            u32 lo = pack_bf2(x1 * c0 - x2 * s0, y1 * c1 - y2 * s1);
            u32 hi = pack_bf2(x2 * c0 + x1 * s0, y2 * c1 + y1 * s1);
            bf16* dst = head < numHeads ? qDst + head * D : kDst + (head - numHeads) * D;
            *(u32*)(dst + j) = lo;
            *(u32*)(dst + j + half) = hi;
        }
    }
    int vOff = (numHeads + KV_HEADS) * D;
    for (int i = threadIdx.x; i < KV_HEADS * D / 8; i += blockDim.x)
    {
        uint4 v = *(const uint4*)(row + vOff + 8 * i);
        if (bias)
        {
            const float* bv = bias + vOff + 8 * i;
            v = make_uint4(pack_bf2(bf_lo(v.x) + bv[0], bf_hi(v.x) + bv[1]), pack_bf2(bf_lo(v.y) + bv[2], bf_hi(v.y) + bv[3]),
                           pack_bf2(bf_lo(v.z) + bv[4], bf_hi(v.z) + bv[5]), pack_bf2(bf_lo(v.w) + bv[6], bf_hi(v.w) + bv[7]));
        }
        ((uint4*)vDst)[i] = v;
    }
}
