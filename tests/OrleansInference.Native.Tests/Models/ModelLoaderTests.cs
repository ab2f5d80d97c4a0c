using System.Text.Json.Nodes;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Models;

public sealed class ModelLoaderTests : IDisposable
{
    private readonly List<TestModelDirectory> _dirs = [];

    public void Dispose()
    {
        foreach (var d in _dirs)
        {
            d.Dispose();
        }
    }

    [Fact]
    public void LoadsDirectoryWithConfigAndValidatedTensors()
    {
        var dir = Track(TestModelDirectory.Create(TestModelDirectory.Qwen2Config()));
        using var model = ModelLoader.Load(dir.Path);
        Assert.Equal(new DirectoryInfo(dir.Path).Name, model.Id);
        Assert.Equal(Path.GetFullPath(dir.Path), model.Directory);
        Assert.Equal("qwen2", model.Config.ModelType);
        Assert.True(model.Config.TieWordEmbeddings);
        Assert.Equal([2, 3], model.Config.EosTokenIds);
        Assert.Null(model.Tensors.TryGet("lm_head.weight"));
        Assert.Equal(DType.BF16, model.Tensors.TryGet("model.layers.1.mlp.down_proj.weight")!.DType);
        Assert.Equal([48L, 32L], model.Tensors.TryGet("model.layers.1.mlp.up_proj.weight")!.Shape);

        using var named = ModelLoader.Load(dir.ConfigPath, "my-model");
        Assert.Equal("my-model", named.Id);
    }

    [Fact]
    public void LoadsBuiltinByName()
    {
        using var a = ModelLoader.Load("builtin");
        using var b = ModelLoader.Load("builtin:7", "seven");
        Assert.Equal("builtin", a.Id);
        Assert.Equal("seven", b.Id);
        Assert.Null(a.Directory);
        Assert.Same(BuiltinModel.Config, a.Config);
        Assert.NotEqual(Values(a.Tensors, "model.norm.weight"), Values(b.Tensors, "model.norm.weight"));
        Assert.Throws<ModelLoadException>(() => ModelLoader.Load("builtin:x"));
    }

    [Fact]
    public void ShardedModelComputesTheSameLogitsAsSingleFile()
    {
        var single = Track(TestModelDirectory.Create(TestModelDirectory.Qwen2Config(), seed: 9));
        var sharded = Track(TestModelDirectory.Empty());
        sharded.WriteConfig(TestModelDirectory.Qwen2Config());
        using (var source = SafeTensorsFile.Open(single.FilePath("model.safetensors")))
        {
            var all = SafeTensorsWriter.From(source, DType.BF16).ToList();
            var layer0 = all.Where(t => !t.Name.StartsWith("model.layers.1.", StringComparison.Ordinal)).ToList();
            var layer1 = all.Where(t => t.Name.StartsWith("model.layers.1.", StringComparison.Ordinal)).ToList();
            SafeTensorsWriter.Write(sharded.FilePath("model-00001-of-00002.safetensors"), layer0);
            SafeTensorsWriter.Write(sharded.FilePath("model-00002-of-00002.safetensors"), layer1);
            var map = new JsonObject();
            layer0.ForEach(t => map[t.Name] = "model-00001-of-00002.safetensors");
            layer1.ForEach(t => map[t.Name] = "model-00002-of-00002.safetensors");
            File.WriteAllText(sharded.FilePath("model.safetensors.index.json"), new JsonObject { ["weight_map"] = map }.ToJsonString());
        }

        using var a = ModelLoader.Load(single.Path);
        using var b = ModelLoader.Load(sharded.Path);
        Assert.IsType<ShardedTensorSource>(b.Tensors);
        int[] prompt = [5, 17, 33, 2, 90, 41];
        Assert.Equal(Logits(a, prompt), Logits(b, prompt));
    }

    [Fact]
    public void MissingTensorNamesFileTensorAndExpectedShape()
    {
        var dir = Track(WithTensors(TestModelDirectory.Qwen2Config(), drop: "model.layers.1.self_attn.k_proj.bias"));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains(dir.FilePath("model.safetensors"), e.Message);
        Assert.Contains("'model.layers.1.self_attn.k_proj.bias'", e.Message);
        Assert.Contains("[16]", e.Message);
    }

    [Fact]
    public void ShapeMismatchNamesFileTensorAndBothShapes()
    {
        var dir = Track(WithTensors(TestModelDirectory.Qwen2Config(), reshape: ("model.layers.0.mlp.gate_proj.weight", [32, 48])));
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains(dir.FilePath("model.safetensors"), e.Message);
        Assert.Contains("'model.layers.0.mlp.gate_proj.weight'", e.Message);
        Assert.Contains("has shape [32, 48], expected [48, 32]", e.Message);
    }

    [Fact]
    public void UntiedModelWithoutLmHeadIsRefused()
    {
        var config = TestModelDirectory.Qwen2Config();
        var dir = Track(WithTensors(config, drop: null));
        config["tie_word_embeddings"] = false;
        dir.WriteConfig(config);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(dir.Path));
        Assert.Contains("'lm_head.weight'", e.Message);
        Assert.Contains("[97, 32]", e.Message);
    }

    [Fact]
    public void DirectoryProblemsNameThePath()
    {
        string nowhere = Path.Combine(Path.GetTempPath(), "oi-nowhere-" + Guid.NewGuid().ToString("N"));
        Assert.Contains(nowhere, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(nowhere)).Message);

        var empty = Track(TestModelDirectory.Empty());
        Assert.Contains(empty.ConfigPath, Assert.Throws<ModelLoadException>(() => ModelLoader.Load(empty.Path)).Message);

        empty.WriteConfig(TestModelDirectory.Qwen2Config());
        var noWeights = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(empty.Path));
        Assert.Contains("no .safetensors weights", noWeights.Message);

        File.WriteAllBytes(empty.FilePath("pytorch_model.bin"), [1, 2, 3]);
        Assert.Contains("pytorch_model.bin", Assert.Throws<ModelLoadException>(() => ModelLoader.Load(empty.Path)).Message);

        var badConfig = TestModelDirectory.Qwen2Config();
        badConfig["model_type"] = "gemma";
        empty.WriteConfig(badConfig);
        var e = Assert.Throws<ModelLoadException>(() => ModelLoader.Load(empty.Path));
        Assert.Contains(empty.ConfigPath, e.Message);
        Assert.Contains("gemma", e.Message);
    }

    [Fact]
    public void TokenizerIsLoadedLazilyFromTheModelDirectory()
    {
        // Weights load without tokenizer files; asking for the tokenizer then fails naming the missing file.
        var dir = Track(TestModelDirectory.Create(TestModelDirectory.Qwen2Config()));
        using var model = ModelLoader.Load(dir.Path);
        var e = Assert.Throws<ModelLoadException>(() => model.Tokenizer);
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains(Path.GetFullPath(dir.Path), e.Message);
    }

    private TestModelDirectory Track(TestModelDirectory d)
    {
        _dirs.Add(d);
        return d;
    }

    private static TestModelDirectory WithTensors(JsonObject config, string? drop = null, (string Name, long[] Shape)? reshape = null)
    {
        var dir = TestModelDirectory.Empty();
        dir.WriteConfig(config);
        using var weights = SyntheticWeights.Generate(ModelConfigParser.ParseFile(dir.ConfigPath), 1, "test");
        var tensors = SafeTensorsWriter.From(weights, DType.F32)
            .Where(t => t.Name != drop)
            .Select(t => reshape is { } r && r.Name == t.Name ? t with { Shape = r.Shape } : t)
            .ToList();
        SafeTensorsWriter.Write(dir.FilePath("model.safetensors"), tensors);
        return dir;
    }

    private static float[] Values(ITensorSource source, string name)
    {
        var t = source.TryGet(name)!;
        var f = new float[t.ElementCount];
        t.CopyToFloat32(f);
        return f;
    }

    private static float[] Logits(LoadedModel model, int[] prompt)
    {
        using var backend = new CpuBackend(model, numBlocks: 4, blockSize: 4, threads: 1);
        var logits = new float[model.Config.VocabSize];
        backend.Forward([new SequenceChunk(prompt, 0, [0, 1], LogitsMode.Last)], logits);
        return logits;
    }
}
