// Every decoder layer of a one-token decode step in one launch (batch 1). The five launches per layer of the fused step
// cost ~2 µs each at their boundaries (H100, benchmark ablation: 59 µs per layer against 41 µs of weight bytes). Here
// the grid stays resident (a cooperative launch, so every block is co-resident and the grid barrier cannot deadlock)
// and walks the layers phase by phase, meeting at a grid barrier where the fused step had a kernel boundary:
//   1. RMSNorm of the residual (every block for itself) · [Wq; Wk; Wv], RoPE, k and v stored at the token's slot;
//   2. attention over the pages (blocks < splits · KV heads, each one split of paged_decode_attention_v2's work, the
//      last split of each KV head merging by log-sum-exp);
//   3. O product added into the residual;
//   4. RMSNorm · [Wgate; Wup] and SwiGLU;
//   5. down product added into the residual.
// A warp computes whole outputs (both members of a RoPE or SwiGLU pair), so no exchange through shared memory is
// needed and every value is summed in one fixed order (deterministic, and rounded as the unfused kernels round).
// The attention blocks pull their split's past keys and values into L2 while the QKV phase runs. Measured and not kept
// (NOTES.md), all slower: pulling the next phase's weights into L2 before each barrier; copying each warp's first O and
// gate/up rows into shared memory during the attention; loading each warp's first rows of a phase into registers
// before the barrier in front of it. A grid barrier costs ~1.8 µs (every phase left out), about what a kernel boundary
// cost, so the gain over the five launches per layer is modest (1.153 vs 1.206 ms per step).
// Values written by other blocks in this launch are read with ld.global.cg (L2), never through the incoherent L1.
#define PD_UNROLL 8

struct PdLayer
{
    const bf16* qkv;
    const float* qkvBias;
    const bf16* o;
    const bf16* gateUp;
    const bf16* down;
    const float* inputNorm;
    const float* postNorm;
};

__device__ __forceinline__ u32 load_acquire(const u32* p)
{
    u32 v;
    asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

// Every block of the grid arrives before any leaves; writes before it are visible to all after it. The counter only
// grows during a launch (zeroed before it), so `target` is the number of arrivals this barrier completes. The arrival
// is one release-ordered reduction; the wait polls with acquire loads, backing off between them.
__device__ __forceinline__ void grid_barrier(u32* counter, u32& target)
{
    target += gridDim.x;
    __syncthreads();
    if (threadIdx.x == 0)
    {
        asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
        while (load_acquire(counter) < target) asm volatile("nanosleep.u32 64;");
    }
    __syncthreads();
}

// (W1 · x, W2 · x) for two rows of `chunks` 16-byte chunks, summed over the warp (every lane gets the totals). x may be
// in shared memory. PD_UNROLL chunks of each row are in flight per lane.
__device__ __forceinline__ float2 pd_dot2(const uint4* __restrict__ w1, const uint4* __restrict__ w2, const uint4* x, int chunks)
{
    float a = 0.0f, b = 0.0f;
    for (int c = threadIdx.x & 31; c < chunks; c += 32 * PD_UNROLL)
    {
        uint4 u[PD_UNROLL], v[PD_UNROLL];
#pragma unroll
        for (int k = 0; k < PD_UNROLL; k++)
        {
            bool in = c + 32 * k < chunks;
            u[k] = in ? load_stream(w1 + c + 32 * k) : make_uint4(0, 0, 0, 0);
            v[k] = in ? load_stream(w2 + c + 32 * k) : make_uint4(0, 0, 0, 0);
        }
#pragma unroll
        for (int k = 0; k < PD_UNROLL; k++)
        {
            if (c + 32 * k < chunks)
            {
                uint4 xv = x[c + 32 * k];
                a += dot8(u[k], xv);
                b += dot8(v[k], xv);
            }
        }
    }
    return make_float2(warp_sum(a), warp_sum(b));
}

// Copies a bf16 vector written by other blocks of this launch into shared memory (through L2); ends with a barrier.
__device__ __forceinline__ void pd_stage(uint4* xs, const bf16* src, int chunks)
{
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) xs[c] = load_l2((const uint4*)src + c);
    __syncthreads();
}

// R[n] += W[n] · xs for the columns n of this warp (one writer per column; R read through L2), each row streamed by
// the GEMV's warp loop (gemv_dot). (16 chunks in flight per lane instead of 8 measured slower for the down product's
// 8,192-wide rows: 1.195 vs 1.184 ms per step.)
__device__ __forceinline__ void pd_residual_product(const bf16* __restrict__ W, const uint4* xs, int K, float* R, int vw, int tw)
{
    for (int n = vw; n < HIDDEN; n += tw)
    {
        float acc[1] = {0.0f};
        gemv_dot<1>((const uint4*)(W + (long long)n * K), xs, K >> 3, 0, K >> 3, acc);
        acc[0] = warp_sum(acc[0]);
        if ((threadIdx.x & 31) == 0) R[n] = load_l2(R + n) + acc[0];
    }
}

// X (fp32 residual, one row) through every layer. layers: numLayers entries; q, attn, act: scratch rows; rowOf,
// ctxLens, tables: the decode inputs of the one sequence (as paged_decode_attention_v2, row 0); positions, slots:
// the token's (as gemv_pairs). barrier: one zeroed u32. inter: the MLP width; splits: attention splits per KV head
// (splits · KV_HEADS ≤ grid, ≤ the partial buffers' capacity). skip: phases to leave out (bits 0-4 in the order above,
// as C#'s DecodeStages; a timing ablation only: the results are then wrong). grid: the co-resident blocks (cooperative
// launch), block: 32 · WARPS, dynamic shared memory: max(HIDDEN, heads · HEAD_DIM, inter) · 2 bytes.
#define PD_PARAMS                                                                                                                 \
    const PdLayer *__restrict__ layers, int numLayers, float *X, bf16 *q, bf16 *attn, bf16 *act, int inter, float eps,          \
        const int *__restrict__ positions, const int *__restrict__ slots, const float *__restrict__ invFreq, bf16 *pool,        \
        long long blockStride, long long layerElements, long long planeStride, int numHeads, const int *__restrict__ rowOf,     \
        const int *__restrict__ ctxLens, const int *__restrict__ tables, float scaleLog2, float *partO, float *partML,           \
        int *doneCounters, int splits, u32 *barrier, int skip
#define PD_ARGS                                                                                                                   \
    layers, numLayers, X, q, attn, act, inter, eps, positions, slots, invFreq, pool, blockStride, layerElements, planeStride,    \
        numHeads, rowOf, ctxLens, tables, scaleLog2, partO, partML, doneCounters, splits, barrier, skip

template <int WARPS>
__device__ __forceinline__ void persistent_layers(PD_PARAMS)
{
    extern __shared__ uint4 pdShared[];
    uint4* xs = pdShared;
    u32 target = 0;
    int warp = threadIdx.x >> 5;
    int vw = blockIdx.x * WARPS + warp, tw = gridDim.x * WARPS;
    const int D = HEAD_DIM;
    int qDim = numHeads * D, qkvN = qDim + 2 * KV_HEADS * D;
    int qkPairs = (numHeads + KV_HEADS) * (D / 2);
    int row = rowOf[0], ctx = ctxLens[0];
    // Blocks < splits · KV_HEADS each own one (KV head, split) of the attention; the split's table entries are the
    // same in every layer, so they are staged once.
    bool attends = blockIdx.x < splits * KV_HEADS;
    int g = blockIdx.x % KV_HEADS, split = blockIdx.x / KV_HEADS;
    int per = (ctx + splits - 1) / splits;
    int start = split * per, end = min(ctx, start + per), firstBlock = 0;
    __shared__ int sTable[DEC2_TABLE_CAP];
    if (attends) firstBlock = dec2_stage_table(sTable, tables, start, end);

    for (int layer = 0; layer < numLayers; layer++)
    {
        PdLayer w = layers[layer];
        long long layerOffset = layer * layerElements;

        // 1. q, k, v: RMSNorm of the residual, the pairs' products, RoPE, k and v stored at the slot.
        if (attends) dec2_prefetch_keys(sTable, tables, firstBlock, start, end, pool, blockStride, layerOffset, planeStride, g);
        if (!(skip & 1)) gemv_norm_rows<1>(X, w.inputNorm, eps, xs);
        for (int pair = (skip & 1) ? qkvN : vw; pair < qkvN / 2; pair += tw)
        {
            int c1 = pair_column(PAIR_ROPE, pair, 0, qkvN, qkPairs), c2 = pair_column(PAIR_ROPE, pair, 1, qkvN, qkPairs);
            float2 r = pd_dot2((const uint4*)(w.qkv + (long long)c1 * HIDDEN), (const uint4*)(w.qkv + (long long)c2 * HIDDEN), xs, HIDDEN / 8);
            if ((threadIdx.x & 31) == 0)
                pair_epilogue(PAIR_ROPE, pair, 0, bf2f(f2bf(r.x)), bf2f(f2bf(r.y)), qkvN, qkPairs, q, w.qkvBias, positions, slots, invFreq,
                              pool, blockStride, layerOffset, planeStride, numHeads);
        }
        grid_barrier(barrier, target);

        // 2. Attention.
        if (attends && !(skip & 2))
        {
            dec2_split_block<WARPS, true>(q, row, sTable, tables, firstBlock, start, end, pool, blockStride, layerOffset, planeStride, numHeads,
                                          scaleLog2, partO, partML, doneCounters + g, attn, g, split, splits, 0, 1);
        }
        grid_barrier(barrier, target);

        // 3. O product into the residual.
        if (!(skip & 4))
        {
            pd_stage(xs, attn + (long long)row * qDim, qDim / 8);
            pd_residual_product(w.o, xs, qDim, X, vw, tw);
        }
        grid_barrier(barrier, target);

        // 4. Gate/up with SwiGLU, from the RMSNorm of the residual.
        if (!(skip & 8)) gemv_norm_rows<1>(X, w.postNorm, eps, xs);
        for (int pair = (skip & 8) ? inter : vw; pair < inter; pair += tw)
        {
            float2 r = pd_dot2((const uint4*)(w.gateUp + (long long)pair * HIDDEN), (const uint4*)(w.gateUp + (long long)(pair + inter) * HIDDEN), xs, HIDDEN / 8);
            if ((threadIdx.x & 31) == 0)
                pair_epilogue(PAIR_SWIGLU, pair, 0, bf2f(f2bf(r.x)), bf2f(f2bf(r.y)), 2 * inter, 0, act, nullptr, nullptr, nullptr, nullptr,
                              nullptr, 0, 0, 0, 0);
        }
        grid_barrier(barrier, target);

        // 5. Down product into the residual.
        if (!(skip & 16))
        {
            pd_stage(xs, act, inter / 8);
            pd_residual_product(w.down, xs, inter, X, vw, tw);
        }
        if (layer + 1 < numLayers)
        {
            grid_barrier(barrier, target);
        }
    }
}

// Two blocks of 8 warps per multiprocessor, or (wide, the default) one block of 16 warps: half the blocks normalizing the
// residual for themselves and arriving at each barrier, 16 warps per attention split (H100: 1.153 vs 1.174 ms per step).
extern "C" __global__ void __launch_bounds__(256, 2) persistent_decode_layers(PD_PARAMS) { persistent_layers<8>(PD_ARGS); }

extern "C" __global__ void __launch_bounds__(512, 1) persistent_decode_layers_wide(PD_PARAMS) { persistent_layers<16>(PD_ARGS); }
