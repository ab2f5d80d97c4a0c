// Shared definitions, placed first when the kernels are compiled as one program. No CUDA headers are used:
// bf16 values are 16-bit patterns converted with bit operations and cvt instructions.
// Compile-time constants come from -D options: HEAD_DIM, GQA_GROUP (query heads per KV head), KV_HEADS.

typedef unsigned short bf16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define NEG_INF __uint_as_float(0xff800000u)

// Programmatic dependent launch (Hopper): a kernel launched with the programmatic-serialization attribute may be
// scheduled while the previous kernel of the stream is finishing. It waits here, before reading anything that
// kernel wrote, then lets its own successor be scheduled. Both are no-ops for an ordinary launch.
__device__ __forceinline__ void pdl_enter()
{
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

__device__ __forceinline__ float bf2f(bf16 x) { return __uint_as_float(((u32)x) << 16); }

__device__ __forceinline__ float bf_lo(u32 x) { return __uint_as_float(x << 16); }

__device__ __forceinline__ float bf_hi(u32 x) { return __uint_as_float(x & 0xffff0000u); }

// Two floats to a packed bf16 pair (round to nearest even): lo in the low half.
__device__ __forceinline__ u32 pack_bf2(float lo, float hi)
{
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
}

__device__ __forceinline__ bf16 f2bf(float f) { return (bf16)(pack_bf2(f, 0.0f) & 0xffffu); }

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the block; every thread gets the result. scratch: 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* scratch)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}


// Global loads through L2 only, bypassing the incoherent L1: for values other blocks wrote after this block started
// (partial results, the residual another block's GEMV updated, or in the persistent decode kernel everything a
// previous phase produced).
__device__ __forceinline__ float load_l2(const float* p)
{
    float v;
    asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
    return v;
}

__device__ __forceinline__ uint4 load_l2(const uint4* p)
{
    uint4 r;
    asm volatile("ld.global.cg.v4.u32 {%0,%1,%2,%3}, [%4];" : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w) : "l"(p) : "memory");
    return r;
}

__device__ __forceinline__ float4 load_l2(const float4* p)
{
    float4 r;
    asm volatile("ld.global.cg.v4.f32 {%0,%1,%2,%3}, [%4];" : "=f"(r.x), "=f"(r.y), "=f"(r.z), "=f"(r.w) : "l"(p) : "memory");
    return r;
}

// Element offset of (slot, kvHead, dim 0) in plane 0 (K) of one layer of the paged pool, whose blocks are laid out
// [layer][K|V][slot][kvHead][HEAD_DIM]; V is planeStride elements further.
__device__ __forceinline__ long long kv_offset(const int* table, int position, long long blockStride, long long layerOffset, int kvHead)
{
    int block = table[position / KV_BLOCK_SIZE];
    int slot = position % KV_BLOCK_SIZE;
    return (long long)block * blockStride + layerOffset + ((long long)slot * KV_HEADS + kvHead) * HEAD_DIM;
}
