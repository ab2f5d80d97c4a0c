using System.Text.Json;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// The CUDA backend against transformers on a random Llama-3.2-1B-shaped bf16 model built by
/// tests/device/make_llama1b.py on the GPU machine (ORLEANS_INFERENCE_LLAMA1B names its folder; without it, or
/// without a GPU, the tests skip). The reference is transformers' float32 forward over the same bf16 weights.
/// </summary>
[Collection(CudaCollection.Name)]
public sealed class HfLlama1BTests(CudaTestDevice device)
{
    private const string DirectoryVariable = "ORLEANS_INFERENCE_LLAMA1B";

    [Fact]
    public void TeacherForcedTop1AgreesAtLeast99Percent()
    {
        using var run = Open();
        int agreeFp32 = 0, agreeBf16 = 0, total = 0;
        foreach (var p in run.Prompts)
        {
            var ids = new int[p.Ids.Length];
            run.Backend.ForwardGreedy([new SequenceChunk(p.Ids, 0, run.Table, LogitsMode.All)], ids);
            for (int t = 0; t < ids.Length; t++)
            {
                agreeFp32 += ids[t] == p.ArgmaxFp32[t] ? 1 : 0;
                agreeBf16 += ids[t] == p.ArgmaxBf16[t] ? 1 : 0;
            }

            total += ids.Length;
        }

        Report($"teacher-forced top-1 agreement with transformers: fp32 {agreeFp32}/{total} = {agreeFp32 / (double)total:P2}, bf16 {agreeBf16}/{total} = {agreeBf16 / (double)total:P2}");
        Assert.True(agreeFp32 >= 0.99 * total, $"top-1 agreement with transformers (fp32 compute) is {agreeFp32}/{total}");
    }

    [Fact]
    public void GreedyContinuationsMatchOrDivergeWithinTop5()
    {
        using var run = Open();
        int vocab = run.Model.Config.VocabSize;
        var logits = new float[vocab];
        foreach (var p in run.Prompts)
        {
            run.Backend.Forward([new SequenceChunk(p.Ids, 0, run.Table, LogitsMode.Last)], logits);
            var ours = new List<int>();
            int firstDifference = -1;
            for (int i = 0; i < p.GreedyFp32.Length; i++)
            {
                var top5 = Top(logits, 5);
                int token = top5[0];
                ours.Add(token);
                if (token != p.GreedyFp32[i])
                {
                    firstDifference = i;
                    Assert.True(p.Top5Fp32[i].Contains(token), $"prompt {p.Ids.Length}, step {i}: our token {token} is not in transformers' top-5 [{string.Join(", ", p.Top5Fp32[i])}]");
                    Assert.True(top5.Contains(p.GreedyFp32[i]), $"prompt {p.Ids.Length}, step {i}: transformers' token {p.GreedyFp32[i]} is not in our top-5 [{string.Join(", ", top5)}]");
                    break;
                }

                run.Backend.Forward([new SequenceChunk([token], p.Ids.Length + i, run.Table, LogitsMode.Last)], logits);
            }

            Report($"prompt of {p.Ids.Length}: greedy matches transformers for {(firstDifference < 0 ? p.GreedyFp32.Length : firstDifference)} of {p.GreedyFp32.Length} tokens");
        }
    }

    private static int[] Top(ReadOnlySpan<float> row, int k)
    {
        var best = new List<int>();
        for (int n = 0; n < k; n++)
        {
            int b = -1;
            for (int v = 0; v < row.Length; v++)
            {
                if (!best.Contains(v) && (b < 0 || row[v] > row[b]))
                {
                    b = v;
                }
            }

            best.Add(b);
        }

        return [.. best];
    }

    private static void Report(string line)
    {
        var path = Environment.GetEnvironmentVariable("ORLEANS_INFERENCE_REPORT");
        if (!string.IsNullOrEmpty(path))
        {
            File.AppendAllText(path, line + Environment.NewLine);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(line);
    }

    private Run Open()
    {
        device.Require();
        var dir = Environment.GetEnvironmentVariable(DirectoryVariable);
        Assert.SkipWhen(string.IsNullOrEmpty(dir), $"{DirectoryVariable} is not set (tests/device/correctness.sh builds the model with transformers)");
        return new Run(dir!, device.KernelCache);
    }

    private sealed record Prompt(int[] Ids, int[] ArgmaxFp32, int[] ArgmaxBf16, int[] GreedyFp32, int[][] Top5Fp32);

    private sealed class Run : IDisposable
    {
        public Run(string dir, string cache)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "reference.json")));
            Prompts = doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => new Prompt(
                Ints(p.GetProperty("ids")),
                Ints(p.GetProperty("argmax_fp32")),
                Ints(p.GetProperty("argmax_bf16")),
                Ints(p.GetProperty("greedy_fp32")),
                p.GetProperty("top5_fp32").EnumerateArray().Select(Ints).ToArray())).ToArray();
            Model = ModelLoader.Load(dir);
            Backend = new CudaBackend(Model, 0, numBlocks: 80, blockSize: 16, new CudaBackendOptions { KernelCacheDirectory = cache, MaxSequences = 8 });
            Table = Enumerable.Range(0, 80).ToArray();
        }

        public LoadedModel Model { get; }

        public CudaBackend Backend { get; }

        public int[] Table { get; }

        public IReadOnlyList<Prompt> Prompts { get; }

        public void Dispose()
        {
            Backend.Dispose();
            Model.Dispose();
        }

        private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
    }
}
