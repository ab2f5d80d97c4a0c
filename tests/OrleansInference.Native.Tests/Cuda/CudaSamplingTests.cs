using OrleansInference.Native.Backends;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;
using OrleansInference.Native.Sampling;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// Token selection on the GPU (Sample.cu) against <see cref="TokenSampler"/> on the same logits: the same Philox
/// uniforms bit for bit, and the same token for every (seed, position, sample index) over many distributions and
/// filter settings, ties and non-finite logits included; then the engine on CUDA with selection on and off.
/// </summary>
[Collection(CudaCollection.Name)]
public sealed class CudaSamplingTests(CudaTestDevice device, CudaSamplingTests.Data data) : IClassFixture<CudaSamplingTests.Data>
{
    private const int Rows = 32;

    public sealed class Data : IDisposable
    {
        public LoadedModel Model { get; } = BuiltinModel.Create(1234);

        public void Dispose() => Model.Dispose();
    }

    private static readonly RowSampling[] Settings =
    [
        new(1.0f, 0, 1f, 0f, 0, 0, 0),
        new(0.7f, 0, 1f, 0f, 0, 0, 0),
        new(1.6f, 0, 0.9f, 0f, 0, 0, 0),
        new(0.9f, 50, 1f, 0f, 0, 0, 0),
        new(1.0f, 5, 0.8f, 0f, 0, 0, 0),
        new(1.2f, 0, 0.5f, 0.02f, 0, 0, 0),
        new(0.5f, 1000, 0.95f, 0.001f, 0, 0, 0),
        new(1.0f, 0, 1f, 0.1f, 0, 0, 0),
        new(2.5f, 200000, 0.99f, 0f, 0, 0, 0),
        new(0f, 0, 1f, 0f, 0, 0, 0),
        new(0.3f, 2, 1f, 0f, 0, 0, 0),
    ];

    /// <summary>Logits shapes: Gaussian at several scales, heavy ties, a peaked row, non-finite entries.</summary>
    private static void FillRow(Span<float> row, int kind, Random rng)
    {
        for (int i = 0; i < row.Length; i++)
        {
            double g = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            row[i] = kind switch
            {
                0 => (float)g,
                1 => (float)(3 * g),
                2 => (float)(8 * g),
                3 => MathF.Round((float)(2 * g)),          // a handful of distinct values: large tie groups
                4 => (float)(0.02 * g),                    // nearly flat
                _ => (float)(4 * g),
            };
        }

        if (kind == 5)
        {
            row[rng.Next(row.Length)] = float.NaN;
            row[rng.Next(row.Length)] = float.NegativeInfinity;
            row[rng.Next(row.Length)] = 40f;               // one dominant token
        }
    }

    [Fact]
    public void GpuPicksTheTokensOfTheCpuSamplerForManySeedsAndPositions()
    {
        device.Require();
        var model = data.Model;
        using var backend = Create(model);
        int vocab = model.Config.VocabSize;
        var rng = new Random(20261125);
        var logits = new float[Rows * vocab];
        var rows = new RowSampling[Rows];
        var ids = new int[Rows];
        var uniforms = new double[Rows];
        var sampler = new TokenSampler();
        var copy = new float[vocab];
        int draws = 0, mismatches = 0;
        var firstMismatch = "";
        var distinct = new HashSet<int>();
        for (int call = 0; call < 48; call++)
        {
            for (int r = 0; r < Rows; r++)
            {
                FillRow(logits.AsSpan(r * vocab, vocab), (call + r) % 6, rng);
                var s = Settings[(call * 7 + r) % Settings.Length];
                rows[r] = s with { Seed = (ulong)rng.NextInt64(), Position = rng.Next(1, 1 << 20) + (call % 3 == 0 ? (1L << 33) : 0), SampleIndex = r % 4 };
            }

            backend.SelectFromLogits(logits, rows, ids, uniforms);
            for (int r = 0; r < Rows; r++)
            {
                var s = rows[r];
                Assert.Equal(PhiloxRng.Uniform(s.Seed, s.Position, s.SampleIndex), uniforms[r]);
                logits.AsSpan(r * vocab, vocab).CopyTo(copy);
                var p = new SamplingParams { Temperature = s.Temperature, TopK = s.TopK, TopP = s.TopP, MinP = s.MinP };
                int expected = sampler.Sample(copy, p, [], [], s.Position, s.SampleIndex, s.Seed).TokenId;
                draws++;
                distinct.Add(expected);
                if (expected != ids[r])
                {
                    mismatches++;
                    if (firstMismatch.Length == 0)
                    {
                        firstMismatch = $"call {call} row {r} kind {(call + r) % 6} {s}: cpu {expected}, gpu {ids[r]}";
                    }
                }
            }
        }

        Report($"GPU sampling vs TokenSampler: {draws - mismatches}/{draws} identical ({distinct.Count} distinct tokens)");
        Assert.True(mismatches == 0, $"{mismatches} of {draws} draws differ; first: {firstMismatch}");
        Assert.True(distinct.Count > draws / 10, $"only {distinct.Count} distinct tokens in {draws} draws");
    }

    [Fact]
    public async Task EngineOnCudaGivesTheSameTokensWithSelectionOnTheGpuOrOnTheHost()
    {
        device.Require();
        var model = data.Model;
        var prompt = Enumerable.Range(0, 23).Select(i => (i * 7919) % 50000).ToArray();
        var requests = new[]
        {
            new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true },
            new SamplingParams { Temperature = 0.8f, TopP = 0.9f, Seed = 11, MaxTokens = 16, IgnoreEos = true },
            new SamplingParams { Temperature = 1.0f, TopK = 20, MinP = 0.01f, Seed = 12, MaxTokens = 16, IgnoreEos = true },
            new SamplingParams { Temperature = 1.0f, TopP = 0.95f, Seed = 13, N = 2, MaxTokens = 16, IgnoreEos = true },
        };

        async Task<List<IReadOnlyList<int>>> RunAsync(bool onDevice)
        {
            await using var engine = InferenceEngine.Create(model, new EngineOptions { Device = "cuda", NumBlocks = 64, BlockSize = 16, SelectTokensOnDevice = onDevice });
            Assert.StartsWith("cuda", engine.Info.Device);
            var result = new List<IReadOnlyList<int>>();
            // One request at a time: the same step shapes on both engines, so the logits are bit-identical.
            for (int i = 0; i < requests.Length; i++)
            {
                var outputs = await engine.Submit(new GenerationRequest { RequestId = $"r{i}", PromptTokenIds = prompt, Sampling = requests[i] })
                    .CollectAsync(TestContext.Current.CancellationToken);
                foreach (var o in outputs.OrderBy(o => o.SampleIndex))
                {
                    Assert.Null(o.Error);
                    Assert.Equal(16, o.TokenIds.Count);
                    result.Add(o.TokenIds);
                }
            }

            return result;
        }

        var host = await RunAsync(onDevice: false);
        var gpu = await RunAsync(onDevice: true);
        Assert.Equal(host, gpu);
        Assert.NotEqual(gpu[0], gpu[1]);
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

    private CudaBackend Create(LoadedModel model) =>
        new(model, 0, numBlocks: 16, blockSize: 16, new CudaBackendOptions { KernelCacheDirectory = device.KernelCache, MaxBatchTokens = 256, MaxSequences = 16 });
}
