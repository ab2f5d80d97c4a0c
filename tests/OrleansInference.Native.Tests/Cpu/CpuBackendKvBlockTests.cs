using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cpu;

public sealed class CpuBackendKvBlockTests(CpuModelFixture fixture) : IClassFixture<CpuModelFixture>
{
    [Fact]
    public void LayoutDescribesFloat32Blocks()
    {
        using var backend = new CpuBackend(fixture.Builtin, numBlocks: 6, blockSize: 4, threads: 1);
        Assert.Equal(new KvLayout(6, 4, 2, 2, 16, DType.F32), backend.Layout);
        Assert.Equal(2L * 2 * 4 * 2 * 16 * 4, backend.Layout.BlockBytes);
        Assert.Equal("cpu", backend.Name);
        Assert.Same(fixture.Builtin.Config, backend.Model);
    }

    [Fact]
    public void BlocksMovedThroughHostBytesContinueTheSequenceExactly()
    {
        var model = fixture.Qwen2;
        int[] prompt = fixture.Qwen2Prompt[..13];
        int next = fixture.Qwen2Prompt[13];
        int vocab = model.Config.VocabSize;

        using var source = new CpuBackend(model, numBlocks: 8, blockSize: 4, threads: 1);
        source.Forward([new SequenceChunk(prompt, 0, [0, 1, 2, 3], LogitsMode.None)], []);
        var expected = new float[vocab];
        source.Forward([new SequenceChunk([next], 13, [0, 1, 2, 3], LogitsMode.Last)], expected);

        // Move the 4 blocks (the last one partial) to other ids on a fresh backend, then decode the same token.
        using var target = new CpuBackend(model, numBlocks: 8, blockSize: 4, threads: 2);
        var bytes = new byte[source.Layout.BlockBytes];
        int[] moved = [6, 2, 7, 0];
        for (int i = 0; i < 4; i++)
        {
            source.ReadBlock(i, bytes);
            target.WriteBlock(moved[i], bytes);
        }

        var actual = new float[vocab];
        target.Forward([new SequenceChunk([next], 13, moved, LogitsMode.Last)], actual);
        Assert.Equal(expected, actual);
        Assert.Equal(fixture.Qwen2Reference[13].Length, actual.Length);
        CpuBackendForwardTests.AssertClose(fixture.Qwen2Reference[13], actual, "after transfer");
    }

    [Fact]
    public void CopiedPartialBlockLetsTwoBranchesDiverge()
    {
        var model = fixture.Builtin;
        int vocab = model.Config.VocabSize;
        int[] prompt = fixture.BuiltinPrompt[..10]; // blocks 0, 1 full; block 2 holds positions 8, 9
        using var backend = new CpuBackend(model, numBlocks: 8, blockSize: 4, threads: 1);
        backend.Forward([new SequenceChunk(prompt, 0, [0, 1, 2], LogitsMode.None)], []);
        backend.CopyBlock(2, 5);

        // Branch A appends token 100 in block 2, branch B appends token 200 in the copy; each must see only its own.
        var both = new float[2 * vocab];
        backend.Forward(
            [
                new SequenceChunk([100], 10, [0, 1, 2], LogitsMode.Last),
                new SequenceChunk([200], 10, [0, 1, 5], LogitsMode.Last),
            ],
            both);

        using var fresh = new CpuBackend(model, numBlocks: 8, blockSize: 4, threads: 1);
        var a = new float[vocab];
        var b = new float[vocab];
        fresh.Forward([new SequenceChunk([.. prompt, 100], 0, [0, 1, 2], LogitsMode.Last)], a);
        fresh.Forward([new SequenceChunk([.. prompt, 200], 0, [3, 4, 5], LogitsMode.Last)], b);
        Assert.Equal(a, both.AsSpan(0, vocab).ToArray());
        Assert.Equal(b, both.AsSpan(vocab, vocab).ToArray());
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void BlockOperationsCheckIdsAndSizes()
    {
        using var backend = new CpuBackend(fixture.Builtin, numBlocks: 4, blockSize: 4, threads: 1);
        int size = (int)backend.Layout.BlockBytes;
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.CopyBlock(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.CopyBlock(-1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.ReadBlock(4, new byte[size]));
        Assert.Throws<ArgumentException>(() => backend.ReadBlock(0, new byte[size - 1]));
        Assert.Throws<ArgumentException>(() => backend.WriteBlock(0, new byte[size + 4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => backend.WriteBlock(9, new byte[size]));

        var pattern = new byte[size];
        for (int i = 0; i < size; i++)
        {
            pattern[i] = (byte)(i * 7);
        }

        backend.WriteBlock(3, pattern);
        backend.CopyBlock(3, 1);
        var back = new byte[size];
        backend.ReadBlock(1, back);
        Assert.Equal(pattern, back);
    }
}
