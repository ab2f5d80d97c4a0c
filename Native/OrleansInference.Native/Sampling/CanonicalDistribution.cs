using System.Numerics.Tensors;

namespace OrleansInference.Native.Sampling;

/// <summary>
/// A row of logits viewed in canonical order (probability descending, ties to the lower id) without sorting the
/// vocabulary. Tokens are bucketed by their tempered distance from the maximum into up to 4096 equal ranges (so equal keys share a bucket
/// and buckets follow the canonical order); per-bucket masses and counts answer prefix questions, and only the
/// bucket a question lands in is gathered and sorted. Top-k, top-p and min-p all keep a prefix of the canonical
/// order, so the sampler only asks "which rank", "how much mass before rank r" and "how many keys reach t".
/// Scratch buffers are reused between rows; not thread-safe.
/// </summary>
internal sealed class CanonicalDistribution
{
    private const int MaxBuckets = 4096;

    /// <summary>Tempered-logit span mapped onto the buckets at most; weights beyond it underflow to zero anyway.</summary>
    private const float MaxRange = 104f;

    private const int CachedBuckets = 4;

    private float[] _keys = [];     // the logits with NaN replaced by -inf, when there was a NaN
    private float[] _weights = [];  // exp(offset)
    private float[] _scaled = [];   // offsets (logit - max) / temperature: the order key
    private int[] _bucketOf = [];
    private int _n;
    private int _buckets;
    private float _scale;
    private readonly int[] _count = new int[MaxBuckets];
    private readonly double[] _mass = new double[MaxBuckets];
    private readonly int[] _start = new int[MaxBuckets + 1];
    private readonly double[] _massBefore = new double[MaxBuckets + 1];
    private readonly (int Bucket, Candidate[] Members, int Length)[] _cache = new (int, Candidate[], int)[CachedBuckets];
    private int _cacheNext;

    /// <summary>Number of tokens with non-zero probability.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// Loads a row. offset = (logit − max) / temperature is the order key (descending, ties to the lower id: the
    /// probability order); weight = exp(offset). Returns false when no token has a
    /// finite, positive weight (all −∞/NaN, or a +∞ logit): the caller falls back to argmax.
    /// </summary>
    public bool Load(ReadOnlySpan<float> logits, float temperature)
    {
        var n = logits.Length;
        _n = n;
        Grow(ref _keys, n);
        Grow(ref _weights, n);
        Grow(ref _scaled, n);
        Grow(ref _bucketOf, n);
        var offsets = _scaled.AsSpan(0, n);
        var weights = _weights.AsSpan(0, n);
        var bucketOf = _bucketOf.AsSpan(0, n);
        for (var i = 0; i < _cache.Length; i++)
        {
            _cache[i].Bucket = -1;
        }

        var max = TensorPrimitives.Max(logits);
        if (float.IsNaN(max))
        {
            var clean = _keys.AsSpan(0, n);
            for (var i = 0; i < n; i++)
            {
                clean[i] = float.IsNaN(logits[i]) ? float.NegativeInfinity : logits[i]; // NaN logits can never be drawn
            }

            logits = clean;
            max = TensorPrimitives.Max(logits);
        }

        if (!float.IsFinite(max))
        {
            return false;
        }

        TensorPrimitives.Subtract(logits, max, offsets);
        if (temperature != 1f)
        {
            TensorPrimitives.Multiply(offsets, 1f / temperature, offsets);
        }

        var min = TensorPrimitives.Min(offsets);
        var range = float.IsFinite(min) ? Math.Min(-min, MaxRange) : MaxRange;
        _buckets = Math.Clamp(n / 8, 1, MaxBuckets);
        _scale = range > 0f ? _buckets / range : 0f;

        // bucket = floor(-offset · scale) (conversion saturates; clamped below), weight = exp(offset).
        TensorPrimitives.Multiply(offsets, -_scale, weights);
        TensorPrimitives.ConvertTruncating<float, int>(weights, bucketOf);
        TensorPrimitives.Exp(offsets, weights);

        Array.Clear(_count, 0, _buckets);
        Array.Clear(_mass, 0, _buckets);
        var total = 0;
        var lastBucket = _buckets - 1;
        for (var i = 0; i < n; i++)
        {
            var w = weights[i];
            if (w > 0f)
            {
                var b = bucketOf[i];
                if ((uint)b > (uint)lastBucket)
                {
                    b = lastBucket;
                    bucketOf[i] = b;
                }

                _count[b]++;
                _mass[b] += w;
                total++;
            }
            else
            {
                bucketOf[i] = -1;
            }
        }

        Count = total;
        if (total == 0)
        {
            return false;
        }

        _start[0] = 0;
        _massBefore[0] = 0;
        for (var b = 0; b < _buckets; b++)
        {
            _start[b + 1] = _start[b] + _count[b];
            _massBefore[b + 1] = _massBefore[b] + _mass[b];
        }

        return true;
    }

    /// <summary>The token at a rank of the canonical order.</summary>
    public int TokenAt(int rank)
    {
        var b = BucketOfRank(rank);
        return Members(b)[rank - _start[b]].Id;
    }

    /// <summary>Total weight of the first <paramref name="length"/> tokens.</summary>
    public double PrefixMass(int length)
    {
        if (length >= Count)
        {
            return _massBefore[_buckets];
        }

        var b = BucketOfRank(length);
        var mass = _massBefore[b];
        if (length > _start[b])
        {
            var members = Members(b);
            for (var i = 0; i < length - _start[b]; i++)
            {
                mass += members[i].Weight;
            }
        }

        return mass;
    }

    /// <summary>
    /// The first rank r &lt; <paramref name="length"/> at which the cumulative weight exceeds <paramref name="target"/>
    /// (the last rank of the prefix when rounding leaves it short); <paramref name="massBefore"/> is the weight before r.
    /// </summary>
    public int RankAtMass(double target, int length, out double massBefore)
    {
        length = Math.Min(length, Count);
        for (var b = FirstBucketReaching(target); b < _buckets && _start[b] < length; b++)
        {
            var acc = _massBefore[b];
            var members = Members(b);
            var end = Math.Min(members.Length, length - _start[b]);
            for (var i = 0; i < end; i++)
            {
                var w = members[i].Weight;
                if (acc + w > target)
                {
                    massBefore = acc;
                    return _start[b] + i;
                }

                acc += w;
            }
        }

        massBefore = PrefixMass(length - 1);
        return length - 1;
    }

    /// <summary>How many tokens have an offset (tempered logit minus the maximum) of at least <paramref name="threshold"/>; a prefix of the order.</summary>
    public int CountOffsetAtLeast(float threshold)
    {
        // offset ≥ t ⇔ -offset·scale ≤ -t·scale: buckets two or more below that one are all in, two or more above
        // are all out (a margin for rounding); only the three around it are checked token by token.
        var edge = threshold >= 0f ? 0 : (int)Math.Min(-threshold * _scale, _buckets + 2f);
        var first = Math.Max(0, edge - 1);
        if (first >= _buckets)
        {
            // Below every bucket (a tiny min_p): all tokens pass.
            return Math.Max(1, _start[_buckets]);
        }
        var last = Math.Min(_buckets - 1, edge + 1);
        var count = _start[first];
        for (var b = first; b <= last; b++)
        {
            foreach (ref readonly var c in Members(b))
            {
                if (c.Key >= threshold)
                {
                    count++;
                }
            }
        }

        return Math.Max(1, count);
    }

    private int FirstBucketReaching(double target)
    {
        // Largest b with massBefore[b] ≤ target: the bucket where the running mass crosses it.
        var lo = 0;
        var hi = _buckets - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) >> 1;
            if (_massBefore[mid] <= target)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    private int BucketOfRank(int rank)
    {
        // Largest b with start[b] ≤ rank: the (non-empty) bucket holding that rank.
        var lo = 0;
        var hi = _buckets - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) >> 1;
            if (_start[mid] <= rank)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return lo;
    }

    /// <summary>A bucket's tokens in canonical order, gathered with a vectorised search and cached for this row.</summary>
    private ReadOnlySpan<Candidate> Members(int bucket)
    {
        foreach (var entry in _cache)
        {
            if (entry.Bucket == bucket)
            {
                return entry.Members.AsSpan(0, entry.Length);
            }
        }

        var size = _count[bucket];
        ref var slot = ref _cache[_cacheNext];
        _cacheNext = (_cacheNext + 1) % CachedBuckets;
        if (slot.Members is null || slot.Members.Length < size)
        {
            slot.Members = new Candidate[Math.Max(size, 64)];
        }

        var bucketOf = _bucketOf.AsSpan(0, _n);
        var at = 0;
        var k = 0;
        while (k < size)
        {
            var found = bucketOf[at..].IndexOf(bucket);
            at += found;
            slot.Members[k++] = new Candidate(_scaled[at], at, _weights[at]);
            at++;
        }

        var members = slot.Members.AsSpan(0, size);
        if (!IsCanonical(members))
        {
            members.Sort(static (a, b) => Candidate.RanksBefore(a, b) ? -1 : Candidate.RanksBefore(b, a) ? 1 : 0);
        }

        slot.Bucket = bucket;
        slot.Length = size;
        return members;
    }

    private static bool IsCanonical(ReadOnlySpan<Candidate> c)
    {
        for (var i = 1; i < c.Length; i++)
        {
            if (Candidate.RanksBefore(c[i], c[i - 1]))
            {
                return false;
            }
        }

        return true;
    }

    private static void Grow<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size)
        {
            buffer = new T[size];
        }
    }
}
