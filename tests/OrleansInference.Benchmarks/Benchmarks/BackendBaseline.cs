using System.Diagnostics;
using System.Numerics.Tensors;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>
/// Greedy decode straight on the CPU backend (forward + argmax, no scheduler, sampler, detokenizer or channels): the
/// floor the engine's per-step time is compared with.
/// </summary>
internal static class BackendBaseline
{
    /// <summary>Milliseconds per decode step for <paramref name="batch"/> sequences (median over the steps).</summary>
    public static double DecodeStepMs(LoadedModel model, int threads, int batch, int prompt, int steps)
    {
        const int blockSize = 16;
        var blocksPerSeq = (prompt + steps + blockSize - 1) / blockSize;
        using var backend = new CpuBackend(model, blocksPerSeq * batch, blockSize, threads, 512);
        var vocab = model.Config.VocabSize;
        var tables = Enumerable.Range(0, batch).Select(s => Enumerable.Range(s * blocksPerSeq, blocksPerSeq).ToArray()).ToArray();
        var logits = new float[batch * vocab];
        var next = new int[batch];
        var r = new Random(3);
        for (var s = 0; s < batch; s++)
        {
            var tokens = Enumerable.Range(0, prompt).Select(_ => r.Next(50_000)).ToArray();
            backend.Forward([new SequenceChunk(tokens, 0, tables[s], LogitsMode.Last)], logits.AsSpan(0, vocab));
            next[s] = TensorPrimitives.IndexOfMax(logits.AsSpan(0, vocab));
        }
        var times = new double[steps];
        var chunks = new SequenceChunk[batch];
        for (var step = 0; step < steps; step++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var s = 0; s < batch; s++)
            {
                chunks[s] = new SequenceChunk([next[s]], prompt + step, tables[s], LogitsMode.Last);
            }
            backend.Forward(chunks, logits);
            for (var s = 0; s < batch; s++)
            {
                next[s] = TensorPrimitives.IndexOfMax(logits.AsSpan(s * vocab, vocab));
            }
            times[step] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[steps / 2];
    }
}
