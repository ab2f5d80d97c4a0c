using System.Numerics.Tensors;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Kv;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Engine;

// Teacher-forced scoring: one pass over given tokens with every position's logits.
public sealed partial class InferenceEngine
{
    // Rows of logits per forward call while scoring (each row is a vocabulary of floats).
    private const int ScoreRowsPerPass = 64;

    /// <inheritdoc />
    public Task<ScoreResult> ScoreAsync(IReadOnlyList<int> tokenIds, int topLogprobs = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        if (tokenIds.Count == 0)
        {
            throw Invalid("Nothing to score: the token list is empty.", "token_ids");
        }
        CheckIds(tokenIds, "token_ids");
        if (tokenIds.Count > Info.MaxModelLength)
        {
            throw new EngineRequestException(EngineErrorKind.PromptTooLong,
                $"This model's maximum context length is {Info.MaxModelLength} tokens; {tokenIds.Count} were given.", "token_ids");
        }
        if (topLogprobs < 0 || topLogprobs > SamplingValidator.MaxLogprobs)
        {
            throw Invalid($"top logprobs must be in [0, {SamplingValidator.MaxLogprobs}], got {topLogprobs}.", "top_logprobs");
        }
        if (_kv.BlocksFor(tokenIds.Count) > _kv.Pool.Total)
        {
            throw new EngineRequestException(EngineErrorKind.PromptTooLong,
                $"Scoring {tokenIds.Count} tokens needs {_kv.BlocksFor(tokenIds.Count)} KV blocks; the pool has {_kv.Pool.Total}.", "token_ids");
        }
        var tokens = tokenIds.ToArray();
        return Run(() => Score(tokens, topLogprobs), cancellationToken);
    }

    private ScoreResult Score(int[] tokens, int top)
    {
        var table = new BlockTable();
        if (!_kv.TryReserve(table, 0, tokens.Length, out _))
        {
            throw new EngineRequestException(EngineErrorKind.Overloaded,
                $"Not enough free KV blocks to score {tokens.Length} tokens now; retry when the engine is less busy.");
        }
        var n = tokens.Length;
        var argmax = new int[n];
        var targets = new float[n - 1];
        var tops = top > 0 ? new IReadOnlyList<TokenLogprob>[n] : null;
        try
        {
            var pass = Math.Min(ScoreRowsPerPass, _options.MaxBatchTokens);
            for (var start = 0; start < n; start += pass)
            {
                var count = Math.Min(pass, n - start);
                EnsureCapacity(ref _logits, (long)count * _vocab);
                var chunk = new SequenceChunk(tokens[start..(start + count)], start, table.AsArray(), LogitsMode.All);
                _backend.Forward([chunk], _logits.AsSpan(0, count * _vocab));
                for (var j = 0; j < count; j++)
                {
                    var i = start + j;
                    var row = _logits.AsSpan(j * _vocab, _vocab);
                    var lse = LogSumExp(row);
                    argmax[i] = TensorPrimitives.IndexOfMax(row);
                    if (i + 1 < n)
                    {
                        targets[i] = row[tokens[i + 1]] - lse;
                    }
                    if (tops is not null)
                    {
                        tops[i] = TopLogprobs(row, top, lse);
                    }
                }
            }
        }
        finally
        {
            _kv.Free(table);
        }
        return new ScoreResult(argmax, targets, tops);
    }

    private static float LogSumExp(ReadOnlySpan<float> row)
    {
        var max = TensorPrimitives.Max(row);
        double sum = 0;
        foreach (var x in row)
        {
            sum += Math.Exp(x - max);
        }
        return (float)(max + Math.Log(sum));
    }

    // Top k by logit, ties to the lower id, as log-probabilities.
    private static TokenLogprob[] TopLogprobs(ReadOnlySpan<float> row, int k, float lse)
    {
        var best = new List<(float Logit, int Id)>(k + 1);
        for (var id = 0; id < row.Length; id++)
        {
            var x = row[id];
            if (best.Count == k && x <= best[^1].Logit)
            {
                continue;
            }
            var at = best.Count;
            while (at > 0 && best[at - 1].Logit < x)
            {
                at--;
            }
            best.Insert(at, (x, id));
            if (best.Count > k)
            {
                best.RemoveAt(k);
            }
        }
        return best.Select(b => new TokenLogprob(b.Id, b.Logit - lse)).ToArray();
    }
}
