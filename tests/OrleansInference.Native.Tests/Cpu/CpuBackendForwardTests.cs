using Xunit;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Tests.Cpu;

public sealed class CpuBackendForwardTests(CpuModelFixture fixture) : IClassFixture<CpuModelFixture>
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Models => new() { "builtin", "qwen2", "llama-bias" };

    [Theory]
    [MemberData(nameof(Models))]
    public void WholePromptPrefillMatchesDenseReference(string name)
    {
        var (model, prompt, reference) = fixture.Get(name);
        using var backend = new CpuBackend(model, numBlocks: 16, blockSize: 4, threads: 2);
        var logits = new float[prompt.Length * model.Config.VocabSize];
        backend.Forward([new SequenceChunk(prompt, 0, Table(0, 10), LogitsMode.All)], logits);
        for (int t = 0; t < prompt.Length; t++)
        {
            AssertClose(reference[t], Row(logits, t, model.Config.VocabSize), $"{name} position {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void TokenByTokenDecodeMatchesDenseReference(string name)
    {
        var (model, prompt, reference) = fixture.Get(name);
        using var backend = new CpuBackend(model, numBlocks: 16, blockSize: 4, threads: 2);
        int vocab = model.Config.VocabSize;
        var logits = new float[vocab];
        int[] table = Table(0, 10);
        for (int t = 0; t < prompt.Length; t++)
        {
            backend.Forward([new SequenceChunk([prompt[t]], t, table, LogitsMode.Last)], logits);
            AssertClose(reference[t], logits, $"{name} decode position {t}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ChunkedPrefillOnShuffledBlocksMatchesDenseReference(string name)
    {
        var (model, prompt, reference) = fixture.Get(name);
        using var backend = new CpuBackend(model, numBlocks: 24, blockSize: 4, threads: 2);
        int vocab = model.Config.VocabSize;
        int[] table = [17, 3, 22, 0, 9, 14, 5, 20, 11, 1];
        var logits = new float[5 * vocab];
        for (int start = 0; start < prompt.Length; start += 5)
        {
            int n = Math.Min(5, prompt.Length - start);
            backend.Forward([new SequenceChunk(prompt[start..(start + n)], start, table, LogitsMode.All)], logits);
            for (int i = 0; i < n; i++)
            {
                AssertClose(reference[start + i], Row(logits, i, vocab), $"{name} chunked position {start + i}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void LastModeReturnsOnlyTheFinalRowAndNoneReturnsNothing(string name)
    {
        var (model, prompt, reference) = fixture.Get(name);
        using var backend = new CpuBackend(model, numBlocks: 16, blockSize: 4, threads: 1);
        int vocab = model.Config.VocabSize;
        int half = prompt.Length / 2;
        var untouched = new float[vocab];
        Array.Fill(untouched, 42f);
        backend.Forward([new SequenceChunk(prompt[..half], 0, Table(0, 10), LogitsMode.None)], untouched);
        Assert.All(untouched, v => Assert.Equal(42f, v));

        var logits = new float[vocab];
        backend.Forward([new SequenceChunk(prompt[half..], half, Table(0, 10), LogitsMode.Last)], logits);
        AssertClose(reference[^1], logits, $"{name} last row");
    }

    [Fact]
    public void BatchedStepIsBitwiseEqualToSeparateSteps()
    {
        // Three sequences at different stages in one step (a prefill chunk, two decodes) versus each alone.
        var model = fixture.Builtin;
        int vocab = model.Config.VocabSize;
        int[] a = fixture.BuiltinPrompt, b = CpuModelFixture.MakePrompt(vocab, 9, 11), c = CpuModelFixture.MakePrompt(vocab, 14, 12);

        float[] Alone(int[] tokens, int prefix, int[] table)
        {
            using var backend = new CpuBackend(model, numBlocks: 32, blockSize: 4, threads: 1);
            var logits = new float[(tokens.Length - prefix) * vocab];
            backend.Forward([new SequenceChunk(tokens[..prefix], 0, table, LogitsMode.None)], new float[0]);
            backend.Forward([new SequenceChunk(tokens[prefix..], prefix, table, LogitsMode.All)], logits);
            return logits;
        }

        int[] ta = Table(0, 8), tb = Table(8, 4), tc = Table(12, 4);
        float[] expectedA = Alone(a, 10, ta), expectedB = Alone(b, 8, tb), expectedC = Alone(c, 13, tc);

        using var batched = new CpuBackend(model, numBlocks: 32, blockSize: 4, threads: 2);
        batched.Forward(
            [
                new SequenceChunk(a[..10], 0, ta, LogitsMode.None),
                new SequenceChunk(b[..8], 0, tb, LogitsMode.None),
                new SequenceChunk(c[..13], 0, tc, LogitsMode.None),
            ],
            new float[0]);
        var logits = new float[(a.Length - 10 + 2) * vocab];
        batched.Forward(
            [
                new SequenceChunk(b[8..], 8, tb, LogitsMode.All),
                new SequenceChunk(a[10..], 10, ta, LogitsMode.All),
                new SequenceChunk(c[13..], 13, tc, LogitsMode.All),
            ],
            logits);

        Assert.Equal(expectedB, logits.AsSpan(0, vocab).ToArray());
        Assert.Equal(expectedA, logits.AsSpan(vocab, expectedA.Length).ToArray());
        Assert.Equal(expectedC, logits.AsSpan(vocab + expectedA.Length, vocab).ToArray());
    }

    [Fact]
    public void BuiltinLogitsAreWellSeparated()
    {
        // Widened weights: the top two logits of the built-in model are rarely within 1e-2 of each other.
        int close = 0;
        foreach (var row in fixture.BuiltinReference)
        {
            var sorted = row.OrderDescending().Take(2).ToArray();
            if (sorted[0] - sorted[1] < 1e-2)
            {
                close++;
            }
        }

        Assert.True(close <= 1, $"{close} of {fixture.BuiltinReference.Length} rows have near-tied top logits");
        Assert.True(fixture.BuiltinReference.All(r => r.Max() - r.Min() > 10), "logits should spread widely");
    }

    internal static int[] Table(int first, int count) => Enumerable.Range(first, count).ToArray();

    internal static float[] Row(float[] logits, int row, int vocab) => logits.AsSpan(row * vocab, vocab).ToArray();

    internal static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = Math.Max(1.0, expected.Max(Math.Abs));
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(expected[i] - actual[i]);
            if (!(diff <= worst))
            {
                worst = diff;
                at = i;
            }
        }

        Assert.True(worst / scale <= Tolerance, $"{what}: logit {at} differs by {worst:G4} (relative {worst / scale:G4}); expected {expected[Math.Max(at, 0)]}, got {actual[Math.Max(at, 0)]}");
    }
}
