using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Cpu;
using OrleansInference.Native.TensorParallel;
using Xunit;

namespace OrleansInference.Native.Tests.TensorParallel;

/// <summary>The shard planner: which shapes split, and that the ranks' slices put back together are the full tensors.</summary>
public sealed class TensorParallelPlanTests(CpuModelFixture fixture) : IClassFixture<CpuModelFixture>
{
    [Fact]
    public void BuiltinModelSplitsInTwoByHeadsKvHeadsAndMlpWidth()
    {
        var plan = TensorParallelPlan.Create(fixture.Builtin.Config, 2);
        Assert.Equal((2, 1, 64), (plan.ShardConfig.NumHeads, plan.ShardConfig.NumKvHeads, plan.ShardConfig.IntermediateSize));
        Assert.Equal((64, 16, 2, 50257), (plan.ShardConfig.HiddenSize, plan.ShardConfig.HeadDim, plan.ShardConfig.NumLayers, plan.ShardConfig.VocabSize));
        Assert.Equal(plan.Full.GroupSize, plan.ShardConfig.GroupSize);
        Assert.Equal(new TensorSplit(SplitKind.Rows, 32), plan.SplitOf("model.layers.1.self_attn.q_proj.weight"));
        Assert.Equal(new TensorSplit(SplitKind.Rows, 16), plan.SplitOf("model.layers.0.self_attn.v_proj.weight"));
        Assert.Equal(new TensorSplit(SplitKind.Columns, 32), plan.SplitOf("model.layers.0.self_attn.o_proj.weight"));
        Assert.Equal(new TensorSplit(SplitKind.Rows, 64), plan.SplitOf("model.layers.0.mlp.up_proj.weight"));
        Assert.Equal(new TensorSplit(SplitKind.Columns, 64), plan.SplitOf("model.layers.0.mlp.down_proj.weight"));
        Assert.Equal(new TensorSplit(SplitKind.FirstRankOnly, 0), plan.SplitOf("model.layers.0.self_attn.o_proj.bias"));
        Assert.Equal(TensorSplit.Whole, plan.SplitOf("model.layers.0.input_layernorm.weight"));
        Assert.Equal(TensorSplit.Whole, plan.SplitOf(ModelTensorLayout.Embedding));
        Assert.Equal(TensorSplit.Whole, plan.SplitOf(ModelTensorLayout.LmHead));
    }

    [Theory]
    [InlineData(4, "2 KV heads")]
    [InlineData(3, "4 attention heads, 2 KV heads, MLP width 128")]
    [InlineData(0, "at least 1 rank")]
    public void ShapesThatDoNotDivideAreRefusedNamingWhatDoesNot(int ranks, string named)
    {
        var e = Assert.Throws<NotSupportedException>(() => TensorParallelPlan.Create(fixture.Builtin.Config, ranks));
        Assert.Contains(named, e.Message);
        Assert.Null(TensorParallelPlan.WhyNot(fixture.Builtin.Config, 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RankSlicesReassembleTheFullTensors(bool bf16)
    {
        // Llama with attention_bias: q/k/v and o biases; 2 heads of 16, MLP 40.
        var model = fixture.LlamaBias;
        var plan = TensorParallelPlan.Create(model.Config, 2);
        var shards = Enumerable.Range(0, 2).Select(r => plan.ShardTensors(model.Tensors, r)).ToArray();
        foreach (string name in model.Tensors.Names)
        {
            var full = Read(model.Tensors.TryGet(name)!, bf16);
            var parts = shards.Select(s => Read(s.TryGet(name)!, bf16)).ToArray();
            var shape = model.Tensors.TryGet(name)!.Shape;
            var split = plan.SplitOf(name);
            switch (split.Kind)
            {
                case SplitKind.Whole:
                    Assert.All(parts, p => Assert.Equal(full, p));
                    break;
                case SplitKind.Rows:
                    Assert.Equal(full, parts[0].Concat(parts[1]).ToArray());
                    Assert.Equal(split.Size, shards[1].TryGet(name)!.Shape[0]);
                    break;
                case SplitKind.Columns:
                    int cols = (int)shape[^1], half = cols / 2;
                    Assert.Equal([shape[0], half], shards[1].TryGet(name)!.Shape);
                    for (int row = 0; row < shape[0]; row++)
                    {
                        Assert.Equal(full.AsSpan(row * cols, cols).ToArray(), parts[0].AsSpan(row * half, half).ToArray().Concat(parts[1].AsSpan(row * half, half).ToArray()).ToArray());
                    }

                    break;
                case SplitKind.FirstRankOnly:
                    Assert.Equal(full, parts[0]);
                    Assert.All(parts[1], v => Assert.Equal(0f, v));
                    Assert.Contains(full, v => v != 0);
                    break;
            }
        }

        Assert.Contains(model.Tensors.Names, n => plan.SplitOf(n).Kind == SplitKind.FirstRankOnly);
        Assert.Null(shards[0].TryGet("no.such.tensor"));
    }

    [Fact]
    public void ShardModelHasTheRankConfigAndTheSameTokenizer()
    {
        var plan = TensorParallelPlan.Create(fixture.Builtin.Config, 2);
        using var shard = plan.ShardModel(fixture.Builtin, 1);
        Assert.Same(plan.ShardConfig, shard.Config);
        Assert.Same(fixture.Builtin.Tokenizer, shard.Tokenizer);
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.ShardModel(fixture.Builtin, 2));
        Assert.Throws<ArgumentException>(() => plan.ShardModel(fixture.Qwen2, 0));
    }

    private static float[] Read(ITensor t, bool bf16)
    {
        var values = new float[t.ElementCount];
        if (bf16)
        {
            var bits = new ushort[t.ElementCount];
            t.CopyToBFloat16(bits);
            DTypeConversion.BFloat16ToFloat32(bits, values);
        }
        else
        {
            t.CopyToFloat32(values);
        }

        return values;
    }
}
