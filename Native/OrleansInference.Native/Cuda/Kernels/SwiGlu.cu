// act[t, i] = silu(gate[t, i]) * up[t, i] with gate_up[t] = [gate | up], in fp32; inter % 8 == 0.
// grid: (ceil(inter / 8 / 128), tokens), block: 128.
extern "C" __global__ void swiglu(const bf16* __restrict__ gateUp, bf16* __restrict__ act, int inter)
{
    pdl_enter();
    int t = blockIdx.y;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= inter / 8) return;
    const uint4* g = (const uint4*)(gateUp + (long long)t * 2 * inter);
    const uint4* u = (const uint4*)(gateUp + (long long)t * 2 * inter + inter);
    uint4 gv = g[i], uv = u[i];
    u32 gw[4] = {gv.x, gv.y, gv.z, gv.w}, uw[4] = {uv.x, uv.y, uv.z, uv.w}, ow[4];
#pragma unroll
    for (int k = 0; k < 4; k++)
    {
        float g0 = bf_lo(gw[k]), g1 = bf_hi(gw[k]);
        float a0 = g0 / (1.0f + expf(-g0)) * bf_lo(uw[k]);
        float a1 = g1 / (1.0f + expf(-g1)) * bf_hi(uw[k]);
        ow[k] = pack_bf2(a0, a1);
    }
    ((uint4*)(act + (long long)t * inter))[i] = make_uint4(ow[0], ow[1], ow[2], ow[3]);
}
