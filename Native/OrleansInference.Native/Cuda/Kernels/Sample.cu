// Token selection on the device with the exact rule of Sampling/TokenSampler.cs (see its remarks), so a GPU-chosen
// token is the one the CPU sampler picks from the same logits (up to the last bits of double sums):
//   key = (logit - max) * invT in fp32 (no contraction: a subtract, then a multiply), weight = expf(key);
//   canonical order = key descending, ties to the lower id; only weights > 0 take part (NaN / -inf never drawn);
//   top-k keeps the first k; top-p keeps rank r iff the mass before r is below p * mass(top-k), always rank 0;
//   min-p keeps key >= ln(min_p) (computed on the host); the draw is the first rank whose running mass exceeds
//   u * mass(kept), u = Philox4x32-10(seed, position, sample index) as Sampling/PhiloxRng.cs.
// Nothing is sorted: "the rank where the running count/mass crosses t" is a radix select over the keys' 32 bits
// (4 passes of 8 bits over the row, histograms of counts and double masses in shared memory); tokens with equal keys
// have equal weights and are ordered by id, found with an ordered block scan.
// grid: rows, block: SAMPLE_THREADS. params: SAMPLE_PARAM_WORDS words per row (see CudaBackend.Select.cs).

#define SAMPLE_THREADS 1024
#define SAMPLE_PARAM_WORDS 12

struct SampleShared
{
    double mass[256];
    int count[256];
    double dsum;
    int isum;
    int warp_counts[32];
    float fred[32];
    int ired[32];
    // result of the last select
    u32 prefix;
    int found;
    int count_above;
    double mass_above;
    int ties;
    int pick;
};

// Philox4x32-10 keyed by the seed, counter (position, sample index, 0); the top 53 bits of X0:X1 as a double in [0, 1).
__device__ __forceinline__ double philox_uniform(u64 seed, u64 position, u32 sample_index)
{
    u32 c0 = (u32)position, c1 = (u32)(position >> 32), c2 = sample_index, c3 = 0u;
    u32 k0 = (u32)seed, k1 = (u32)(seed >> 32);
    for (int round = 0; round < 10; round++)
    {
        if (round > 0)
        {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        u32 hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
        u32 hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
        u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    u64 bits = ((u64)c0 << 21) | (u64)(c1 >> 11);
    return (double)bits * (1.0 / 9007199254740992.0);
}

// Ascending unsigned order of the key bits = ascending float order.
__device__ __forceinline__ u32 key_order(float k)
{
    u32 u = __float_as_uint(k);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float order_key(u32 o)
{
    return __uint_as_float((o & 0x80000000u) ? (o & 0x7fffffffu) : ~o);
}

// The tempered key of logit v, kept apart from its multiply so nothing fuses.
__device__ __forceinline__ float sample_key(float v, float m, float inv_t)
{
    float d = __fsub_rn(v, m);
    return __fmul_rn(d, inv_t);
}

__device__ float block_max_f(float v, SampleShared& s)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) s.fred[warp] = v;
    __syncthreads();
    v = s.fred[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) v = fmaxf(v, s.fred[w]);
    return v;
}

__device__ int block_min_i(int v, SampleShared& s)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) s.ired[warp] = v;
    __syncthreads();
    v = s.ired[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); w++) v = min(v, s.ired[w]);
    return v;
}

// Radix select: the key K where the running count (by_mass = 0) or mass (by_mass = 1) of the canonical order first
// exceeds target. Leaves in s: prefix = K's order bits, count_above / mass_above = tokens with larger keys,
// ties = tokens with key K; found = 0 when the whole row stays at or below target.
__device__ void radix_select(const float* row, int vocab, float m, float inv_t, int by_mass, double target, SampleShared& s)
{
    u32 prefix = 0u, mask = 0u;
    __syncthreads(); // every thread has read the previous select's results
    if (threadIdx.x == 0)
    {
        s.count_above = 0;
        s.mass_above = 0.0;
        s.found = 1;
    }
    for (int shift = 24; shift >= 0; shift -= 8)
    {
        for (int b = threadIdx.x; b < 256; b += blockDim.x)
        {
            s.mass[b] = 0.0;
            s.count[b] = 0;
        }
        __syncthreads();
        // Most keys share a few high-order digits: a thread adds up runs of its own tokens in one bin before
        // touching shared memory, which keeps the double atomics from serialising on one address.
        int run_bin = -1, run_count = 0;
        double run_mass = 0.0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        {
            float k = sample_key(row[i], m, inv_t);
            float w = expf(k);
            u32 o = key_order(k);
            if (w > 0.0f && (o & mask) == prefix)
            {
                int d = (int)((o >> shift) & 255u);
                if (d != run_bin)
                {
                    if (run_count > 0)
                    {
                        atomicAdd(&s.count[run_bin], run_count);
                        atomicAdd(&s.mass[run_bin], run_mass);
                    }
                    run_bin = d;
                    run_count = 0;
                    run_mass = 0.0;
                }
                run_count++;
                run_mass += (double)w;
            }
        }
        if (run_count > 0)
        {
            atomicAdd(&s.count[run_bin], run_count);
            atomicAdd(&s.mass[run_bin], run_mass);
        }
        __syncthreads();
        if (threadIdx.x == 0)
        {
            int chosen = -1;
            for (int d = 255; d >= 0; d--)
            {
                if (s.count[d] == 0) continue;
                bool crosses = by_mass ? (s.mass_above + s.mass[d] > target) : ((double)(s.count_above + s.count[d]) > target);
                if (crosses)
                {
                    chosen = d;
                    break;
                }
                s.mass_above += s.mass[d];
                s.count_above += s.count[d];
            }
            if (chosen < 0)
            {
                s.found = 0;
            }
            else
            {
                s.prefix = prefix | ((u32)chosen << shift);
                s.ties = s.count[chosen];
            }
        }
        __syncthreads();
        if (!s.found) return;
        prefix = s.prefix;
        mask |= 255u << shift;
    }
}

// The j-th (0-based, by id) token with key order bits o: an ordered scan of the row. Leaves it in s.pick.
__device__ void pick_tie(const float* row, int vocab, float m, float inv_t, u32 o, int j, SampleShared& s)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (int)(blockDim.x >> 5);
    __syncthreads();
    if (threadIdx.x == 0) s.pick = -1;
    int seen = 0;
    for (int start = 0; start < vocab; start += blockDim.x)
    {
        int i = start + (int)threadIdx.x;
        bool match = false;
        if (i < vocab)
        {
            float k = sample_key(row[i], m, inv_t);
            match = expf(k) > 0.0f && key_order(k) == o;
        }
        u32 ballot = __ballot_sync(0xffffffffu, match);
        __syncthreads();
        if (lane == 0) s.warp_counts[warp] = __popc(ballot);
        __syncthreads();
        int before = seen, total = 0;
        for (int w = 0; w < warps; w++)
        {
            if (w < warp) before += s.warp_counts[w];
            total += s.warp_counts[w];
        }
        before += __popc(ballot & ((1u << lane) - 1u));
        if (match && before == j) s.pick = i;
        seen += total;
        __syncthreads();
        if (s.pick >= 0) return;
    }
}

// Running mass of the first `length` ranks, added up as the CPU sampler does (mass before the tie group, then one
// weight at a time); length >= count is the whole row's mass.
__device__ double prefix_mass(const float* row, int vocab, float m, float inv_t, int length, int count, double total, SampleShared& s)
{
    if (length >= count) return total;
    radix_select(row, vocab, m, inv_t, 0, (double)length, s);
    double acc = s.mass_above;
    float w = expf(order_key(s.prefix));
    for (int j = s.count_above; j < length; j++) acc += (double)w;
    return acc;
}

// The first rank below `length` whose running mass exceeds target, and the mass before it (the last rank of the
// prefix when rounding leaves the row short). Leaves the rank's key and tie index in *key_o / *tie.
__device__ int rank_at_mass(const float* row, int vocab, float m, float inv_t, double target, int length, int count, double total,
                            double* before, u32* key_o, int* tie, SampleShared& s)
{
    radix_select(row, vocab, m, inv_t, 1, target, s);
    if (s.found)
    {
        double acc = s.mass_above;
        float w = expf(order_key(s.prefix));
        int j = 0;
        while (j < s.ties - 1 && !(acc + (double)w > target))
        {
            acc += (double)w;
            j++;
        }
        int rank = s.count_above + j;
        if (rank < length)
        {
            *before = acc;
            *key_o = s.prefix;
            *tie = j;
            return rank;
        }
    }
    int last = length - 1;
    *before = prefix_mass(row, vocab, m, inv_t, last, count, total, s);
    radix_select(row, vocab, m, inv_t, 0, (double)last, s);
    *key_o = s.prefix;
    *tie = last - s.count_above;
    return last;
}

extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS) sample_rows(const float* __restrict__ logits, int vocab,
    const u32* __restrict__ params, int* __restrict__ ids, double* __restrict__ uniforms)
{
    pdl_enter();
    __shared__ SampleShared s;
    const float* row = logits + (long long)blockIdx.x * vocab;
    const u32* p = params + (long long)blockIdx.x * SAMPLE_PARAM_WORDS;
    float inv_t = __uint_as_float(p[0]);
    int top_k = (int)p[1];
    float top_p = __uint_as_float(p[2]);
    float ln_min_p = __uint_as_float(p[3]);
    int use_min_p = (int)p[4];
    u64 seed = (u64)p[5] | ((u64)p[6] << 32);
    u64 position = (u64)p[7] | ((u64)p[8] << 32);
    u32 sample_index = p[9];
    double u = philox_uniform(seed, position, sample_index);
    if (threadIdx.x == 0 && uniforms) uniforms[blockIdx.x] = u;

    // Largest non-NaN logit (fmaxf drops NaN).
    float m = NEG_INF;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) m = fmaxf(m, row[i]);
    m = block_max_f(m, s);

    if (inv_t == 0.0f || !(m > NEG_INF && m < __uint_as_float(0x7f800000u)))
    {
        // Greedy, or no finite maximum: the CPU's argmax (lowest id among the largest non-NaN values; 0 if all NaN).
        int best = 0x7fffffff;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
            if (row[i] == m && i < best) best = i;
        best = block_min_i(best, s);
        if (threadIdx.x == 0) ids[blockIdx.x] = best == 0x7fffffff ? 0 : best;
        return;
    }

    // Tokens with weight > 0 and their total mass.
    if (threadIdx.x == 0)
    {
        s.dsum = 0.0;
        s.isum = 0;
    }
    __syncthreads();
    double local = 0.0;
    int n = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x)
    {
        float w = expf(sample_key(row[i], m, inv_t));
        if (w > 0.0f)
        {
            local += (double)w;
            n++;
        }
    }
    atomicAdd(&s.dsum, local);
    atomicAdd(&s.isum, n);
    __syncthreads();
    double total = s.dsum;
    int count = s.isum;
    __syncthreads();

    int length = count;
    if (top_k > 0 && top_k < length) length = top_k;
    double before;
    u32 key_o = 0u;
    int tie = 0;
    if (top_p < 1.0f && length > 1)
    {
        double target = (double)top_p * prefix_mass(row, vocab, m, inv_t, length, count, total, s);
        int rank = rank_at_mass(row, vocab, m, inv_t, target, length, count, total, &before, &key_o, &tie, s);
        length = (before < target || rank == 0) ? rank + 1 : rank;
    }
    if (use_min_p && length > 1)
    {
        if (threadIdx.x == 0) s.isum = 0;
        __syncthreads();
        int c = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
        {
            float k = sample_key(row[i], m, inv_t);
            if (expf(k) > 0.0f && k >= ln_min_p) c++;
        }
        atomicAdd(&s.isum, c);
        __syncthreads();
        length = min(length, max(1, s.isum));
        __syncthreads();
    }

    if (length == 1)
    {
        radix_select(row, vocab, m, inv_t, 0, 0.0, s);
        key_o = s.prefix;
        tie = 0;
    }
    else
    {
        double target = u * prefix_mass(row, vocab, m, inv_t, length, count, total, s);
        rank_at_mass(row, vocab, m, inv_t, target, length, count, total, &before, &key_o, &tie, s);
    }
    pick_tie(row, vocab, m, inv_t, key_o, tie, s);
    if (threadIdx.x == 0) ids[blockIdx.x] = s.pick;
}
