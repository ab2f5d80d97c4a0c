// KV transfers: copy some layers of a list of pool blocks to or from a dense staging buffer, which NCCL then sends
// or has received. Standalone (no Common.cu): compiled on its own by KvBlockMover.
// Pool block b, layer l starts at word b * block_words + l * layer_words (16-byte words; the pool's layout is
// [block][layer][K|V][slot][kv head][head dim]). Staging holds [layer in round][j][layer_words] for blocks[j].
// grid: (block count, layers in the round); each thread block copies one (block, layer) slice.
extern "C" __global__ void kv_gather_layers(const uint4* __restrict__ pool, uint4* __restrict__ staging,
                                            const int* __restrict__ blocks, int count, int first_layer,
                                            long long block_words, long long layer_words)
{
    const int j = blockIdx.x;
    const int l = blockIdx.y;
    const uint4* src = pool + (long long)blocks[j] * block_words + (long long)(first_layer + l) * layer_words;
    uint4* dst = staging + ((long long)l * count + j) * layer_words;
    for (long long i = threadIdx.x; i < layer_words; i += blockDim.x)
    {
        dst[i] = src[i];
    }
}

extern "C" __global__ void kv_scatter_layers(uint4* __restrict__ pool, const uint4* __restrict__ staging,
                                             const int* __restrict__ blocks, int count, int first_layer,
                                             long long block_words, long long layer_words)
{
    const int j = blockIdx.x;
    const int l = blockIdx.y;
    uint4* dst = pool + (long long)blocks[j] * block_words + (long long)(first_layer + l) * layer_words;
    const uint4* src = staging + ((long long)l * count + j) * layer_words;
    for (long long i = threadIdx.x; i < layer_words; i += blockDim.x)
    {
        dst[i] = src[i];
    }
}
