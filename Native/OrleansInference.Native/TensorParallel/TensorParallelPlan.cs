using OrleansInference.Native.Models;

namespace OrleansInference.Native.TensorParallel;

/// <summary>
/// How one model is split over <see cref="Ranks"/> devices (Megatron-style tensor parallelism): rank <c>r</c> owns
/// query heads <c>[r·H/N, (r+1)·H/N)</c>, the KV heads of their GQA groups <c>[r·KV/N, (r+1)·KV/N)</c> and MLP columns
/// <c>[r·I/N, (r+1)·I/N)</c>. q/k/v and gate/up are split by output rows (column-parallel), o_proj and down_proj by
/// input columns (row-parallel), so each rank's o/down product is a partial sum of the full one: the ranks' partial
/// sums are added (all-reduce) before they join the residual stream. Embedding, norms and the LM head are replicated.
/// A rank's slice is itself a valid Llama model (<see cref="ShardConfig"/>), so an unmodified single-device backend
/// computes a rank's part.
/// </summary>
public sealed class TensorParallelPlan
{
    private TensorParallelPlan(ModelConfig full, int ranks)
    {
        Full = full;
        Ranks = ranks;
        ShardConfig = full with
        {
            NumHeads = full.NumHeads / ranks,
            NumKvHeads = full.NumKvHeads / ranks,
            IntermediateSize = full.IntermediateSize / ranks,
        };
    }

    /// <summary>The unsplit model.</summary>
    public ModelConfig Full { get; }

    /// <summary>Devices the model is split over.</summary>
    public int Ranks { get; }

    /// <summary>One rank's part: heads, KV heads and MLP width divided by <see cref="Ranks"/>, everything else as <see cref="Full"/>.</summary>
    public ModelConfig ShardConfig { get; }

    /// <summary>Plans the split, or throws <see cref="NotSupportedException"/> naming what does not divide.</summary>
    public static TensorParallelPlan Create(ModelConfig config, int ranks)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (WhyNot(config, ranks) is { } reason)
        {
            throw new NotSupportedException(reason);
        }

        return new TensorParallelPlan(config, ranks);
    }

    /// <summary>Why <paramref name="config"/> cannot be split over <paramref name="ranks"/> devices, or null when it can.</summary>
    public static string? WhyNot(ModelConfig config, int ranks)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (ranks < 1)
        {
            return $"Tensor parallelism needs at least 1 rank, not {ranks}.";
        }

        var problems = new List<string>();
        if (config.NumHeads % ranks != 0)
        {
            problems.Add($"{config.NumHeads} attention heads");
        }

        if (config.NumKvHeads % ranks != 0)
        {
            problems.Add($"{config.NumKvHeads} KV heads");
        }

        if (config.IntermediateSize % ranks != 0)
        {
            problems.Add($"MLP width {config.IntermediateSize}");
        }

        return problems.Count == 0 ? null
            : $"Tensor parallelism over {ranks} devices needs the model's heads, KV heads and MLP width to divide by {ranks}; {string.Join(", ", problems)} do not.";
    }

    /// <summary>How <paramref name="name"/> is split (whole for replicated tensors).</summary>
    public TensorSplit SplitOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!name.StartsWith("model.layers.", StringComparison.Ordinal))
        {
            return TensorSplit.Whole;
        }

        int dot = name.IndexOf('.', "model.layers.".Length);
        string suffix = dot < 0 ? string.Empty : name[(dot + 1)..];
        int q = ShardConfig.NumHeads * Full.HeadDim, kv = ShardConfig.NumKvHeads * Full.HeadDim, inter = ShardConfig.IntermediateSize;
        return suffix switch
        {
            "self_attn.q_proj.weight" or "self_attn.q_proj.bias" => new TensorSplit(SplitKind.Rows, q),
            "self_attn.k_proj.weight" or "self_attn.k_proj.bias" or "self_attn.v_proj.weight" or "self_attn.v_proj.bias" => new TensorSplit(SplitKind.Rows, kv),
            "mlp.gate_proj.weight" or "mlp.up_proj.weight" => new TensorSplit(SplitKind.Rows, inter),
            "self_attn.o_proj.weight" => new TensorSplit(SplitKind.Columns, q),
            "mlp.down_proj.weight" => new TensorSplit(SplitKind.Columns, inter),

            // A bias after a row-parallel product must be added once, not once per rank.
            "self_attn.o_proj.bias" => new TensorSplit(SplitKind.FirstRankOnly, 0),
            _ => TensorSplit.Whole,
        };
    }

    /// <summary>Rank <paramref name="rank"/>'s view of <paramref name="full"/>'s tensors (slices made when read; nothing copied up front).</summary>
    public ITensorSource ShardTensors(ITensorSource full, int rank)
    {
        ArgumentNullException.ThrowIfNull(full);
        CheckRank(rank);
        return new ShardTensorSource(full, this, rank);
    }

    /// <summary>Rank <paramref name="rank"/>'s part of <paramref name="model"/> as a model of its own (shares the tokenizer; does not own the tensors).</summary>
    public LoadedModel ShardModel(LoadedModel model, int rank)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Config != Full)
        {
            throw new ArgumentException("The model's config is not the one this plan was made for.", nameof(model));
        }

        return new LoadedModel(model.Id, ShardConfig, ShardTensors(model.Tensors, rank), () => model.Tokenizer, model.Directory);
    }

    private void CheckRank(int rank)
    {
        if ((uint)rank >= (uint)Ranks)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Rank must be in [0, {Ranks}).");
        }
    }
}

/// <summary>How a tensor is divided among ranks.</summary>
public enum SplitKind
{
    /// <summary>Every rank has all of it.</summary>
    Whole,

    /// <summary>Rank r has rows (first dimension) <c>[r·Size, (r+1)·Size)</c>.</summary>
    Rows,

    /// <summary>Rank r has columns (last dimension) <c>[r·Size, (r+1)·Size)</c>.</summary>
    Columns,

    /// <summary>Rank 0 has it; the others have zeros of the same shape.</summary>
    FirstRankOnly,
}

/// <summary>A tensor's split: its kind and the size of each rank's part along the split dimension.</summary>
public readonly record struct TensorSplit(SplitKind Kind, int Size)
{
    /// <summary>Replicated.</summary>
    public static TensorSplit Whole { get; } = new(SplitKind.Whole, 0);
}
