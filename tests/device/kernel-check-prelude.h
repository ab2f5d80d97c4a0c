// Declarations that stand in for the CUDA toolkit's headers so that clang can syntax-check our NVRTC kernels on a
// machine without CUDA (tests/device/check-kernels.sh). Only what the kernels use; add to it when they use more.
#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#include <__clang_cuda_builtin_vars.h>
extern "C" __device__ float __uint_as_float(unsigned int);
extern "C" __device__ unsigned int __float_as_uint(float);
extern "C" __device__ void __syncthreads();
extern "C" __device__ void __threadfence();
__device__ float __shfl_xor_sync(unsigned, float, int, int = 32);
__device__ int __shfl_xor_sync(unsigned, int, int, int = 32);
__device__ unsigned __shfl_xor_sync(unsigned, unsigned, int, int = 32);
__device__ unsigned long long __shfl_xor_sync(unsigned, unsigned long long, int, int = 32);
__device__ long long __shfl_xor_sync(unsigned, long long, int, int = 32);
__device__ float __shfl_sync(unsigned, float, int, int = 32);
__device__ int __shfl_sync(unsigned, int, int, int = 32);
__device__ float atomicAdd(float*, float);
__device__ double atomicAdd(double*, double);
__device__ unsigned __ballot_sync(unsigned, int);
extern "C" __device__ int __popc(unsigned);
extern "C" __device__ unsigned __umulhi(unsigned, unsigned);
extern "C" __device__ float __fsub_rn(float, float);
extern "C" __device__ float __fmul_rn(float, float);
__device__ int atomicAdd(int*, int);
__device__ unsigned atomicAdd(unsigned*, unsigned);
__device__ unsigned long long atomicAdd(unsigned long long*, unsigned long long);
__device__ int atomicMax(int*, int);
__device__ unsigned atomicMax(unsigned*, unsigned);
__device__ unsigned long long atomicMax(unsigned long long*, unsigned long long);
__device__ float expf(float); __device__ float __expf(float); __device__ float logf(float); __device__ float sqrtf(float); __device__ float rsqrtf(float);
__device__ float fmaxf(float,float); __device__ float fminf(float,float); __device__ float powf(float,float); __device__ float sinf(float); __device__ float cosf(float); __device__ float exp2f(float); __device__ float fabsf(float); __device__ float fmaf(float,float,float); __device__ float floorf(float); __device__ float ceilf(float); __device__ float log2f(float); __device__ float tanhf(float);
__device__ void __sincosf(float, float*, float*); __device__ void sincosf(float, float*, float*);
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(8) uint2 { unsigned x, y; };
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(8) float2 { float x, y; };
__device__ inline int min(int a, int b) { return a < b ? a : b; }
__device__ inline int max(int a, int b) { return a > b ? a : b; }
__device__ inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
__device__ inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
__device__ inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { uint4 r; r.x=x; r.y=y; r.z=z; r.w=w; return r; }
__device__ inline float4 make_float4(float x, float y, float z, float w) { float4 r; r.x=x; r.y=y; r.z=z; r.w=w; return r; }
__device__ inline float2 make_float2(float x, float y) { float2 r; r.x=x; r.y=y; return r; }
__device__ inline uint2 make_uint2(unsigned x, unsigned y) { uint2 r; r.x=x; r.y=y; return r; }
__device__ void __syncwarp(unsigned = 0xffffffffu);
