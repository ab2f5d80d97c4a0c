using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using Xunit;

namespace OrleansInference.Native.Tests.Cpu;

public sealed class CpuBackendValidationTests(CpuModelFixture fixture) : IClassFixture<CpuModelFixture>
{
    [Fact]
    public void RejectsBadChunksWithClearMessages()
    {
        using var backend = new CpuBackend(fixture.Qwen2, numBlocks: 4, blockSize: 4, threads: 1);
        var logits = new float[97 * 8];

        void Fails(SequenceChunk chunk, string expected)
        {
            var e = Assert.Throws<ArgumentException>(() => backend.Forward([chunk], logits));
            Assert.Contains(expected, e.Message);
        }

        Fails(new SequenceChunk([1, 97], 0, [0], LogitsMode.Last), "token id 97 is outside the vocabulary [0, 97)");
        Fails(new SequenceChunk([-1], 0, [0], LogitsMode.Last), "token id -1");
        Fails(new SequenceChunk([1, 2, 3], 2, [0], LogitsMode.Last), "positions [2, 5) but its block table of 1 blocks holds 4");
        Fails(new SequenceChunk([1], 4, [0, 4], LogitsMode.Last), "block table entry 1 is 4, outside the pool [0, 4)");
        Fails(new SequenceChunk([], 0, [0], LogitsMode.Last), "no tokens");
        Fails(new SequenceChunk([1], -1, [0], LogitsMode.Last), "negative position");
        Fails(new SequenceChunk([1], 0, null!, LogitsMode.Last), "no block table");

        var small = Assert.Throws<ArgumentException>(() => backend.Forward([new SequenceChunk([1, 2], 0, [0], LogitsMode.All)], new float[97]));
        Assert.Contains("2 logits rows of 97", small.Message);
    }

    [Fact]
    public void RejectsBadConstructionAndUseAfterDispose()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(fixture.Qwen2, numBlocks: 0, blockSize: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(fixture.Qwen2, numBlocks: 1, blockSize: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(fixture.Qwen2, numBlocks: 1, blockSize: 4, threads: -1));
        var backend = new CpuBackend(fixture.Qwen2, numBlocks: 1, blockSize: 4, threads: 0);
        Assert.Equal(Environment.ProcessorCount, backend.Threads);
        backend.Dispose();
        Assert.Throws<ObjectDisposedException>(() => backend.Forward([new SequenceChunk([1], 0, [0], LogitsMode.Last)], new float[97]));
    }

    [Fact]
    public void EmptyStepDoesNothing()
    {
        using var backend = new CpuBackend(fixture.Qwen2, numBlocks: 1, blockSize: 4, threads: 1);
        backend.Forward([], []);
    }

    [Fact]
    public void StepsLargerThanTheScratchSizeStillMatchAndThreadCountDoesNotChangeResults()
    {
        var model = fixture.Builtin;
        int vocab = model.Config.VocabSize;
        int[] prompt = fixture.BuiltinPrompt;
        float[] Run(int threads, int maxBatchTokens)
        {
            using var backend = new CpuBackend(model, numBlocks: 8, blockSize: 4, threads, maxBatchTokens);
            var logits = new float[prompt.Length * vocab];
            backend.Forward([new SequenceChunk(prompt, 0, [0, 1, 2, 3, 4, 5], LogitsMode.All)], logits);
            return logits;
        }

        var one = Run(1, 512);
        Assert.Equal(one, Run(2, 4));
        Assert.Equal(one, Run(3, 7));
        for (int t = 0; t < prompt.Length; t++)
        {
            CpuBackendForwardTests.AssertClose(fixture.BuiltinReference[t], CpuBackendForwardTests.Row(one, t, vocab), $"position {t}");
        }
    }
}
