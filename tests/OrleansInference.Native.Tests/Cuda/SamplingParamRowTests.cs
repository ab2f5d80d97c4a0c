using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>The host side of Sample.cu's parameter rows (no GPU needed).</summary>
public sealed class SamplingParamRowTests
{
    [Fact]
    public void A_sampled_row_carries_the_inverse_temperature_filters_and_the_philox_counter()
    {
        var words = new uint[CudaBackend.SampleParamWords];
        CudaBackend.PackSamplingRow(new RowSampling(0.7f, 50, 0.9f, 0.05f, 0x1234_5678_9ABC_DEF0UL, 0x1_0000_0003L, 2), words);
        Assert.Equal(BitConverter.SingleToUInt32Bits(1f / 0.7f), words[0]);
        Assert.Equal(50u, words[1]);
        Assert.Equal(BitConverter.SingleToUInt32Bits(0.9f), words[2]);
        Assert.Equal(BitConverter.SingleToUInt32Bits(MathF.Log(0.05f)), words[3]);
        Assert.Equal(1u, words[4]);
        Assert.Equal(0x9ABC_DEF0u, words[5]);
        Assert.Equal(0x1234_5678u, words[6]);
        Assert.Equal(3u, words[7]);
        Assert.Equal(1u, words[8]);
        Assert.Equal(2u, words[9]);
        Assert.Equal(0u, words[10]);
        Assert.Equal(0u, words[11]);
    }

    [Fact]
    public void Greedy_rows_have_zero_inverse_temperature_and_filters_off_are_neutral()
    {
        var words = Enumerable.Repeat(0xFFFF_FFFFu, CudaBackend.SampleParamWords).ToArray();
        CudaBackend.PackSamplingRow(new RowSampling(0f, -5, 1f, 0f, 1, 7, 0), words);
        Assert.Equal(0u, words[0]);
        Assert.Equal(0u, words[1]);          // top-k off
        Assert.Equal(BitConverter.SingleToUInt32Bits(1f), words[2]);
        Assert.Equal(0u, words[4]);          // min-p off
        Assert.Equal(7u, words[7]);
        Assert.Equal(0u, words[11]);

        CudaBackend.PackSamplingRow(new RowSampling(1e-45f, 0, 1f, 0f, 1, 7, 0), words);
        Assert.Equal(0u, words[0]);          // 1/T overflows: greedy, as TokenSampler decides
    }
}
