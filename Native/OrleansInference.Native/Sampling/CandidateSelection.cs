namespace OrleansInference.Native.Sampling;

/// <summary>
/// Order statistics over candidates without sorting the whole vocabulary: quickselect-style partitioning in the
/// canonical order (<see cref="Candidate.RanksBefore"/>). Sampling only needs "which token does the CDF cross at
/// mass t", and top-k / top-p only need the set in front of a boundary, so an expected O(n) pass replaces an
/// O(n log n) sort of 128k logits per token.
/// </summary>
internal static class CandidateSelection
{
    /// <summary>Ranges this small are sorted and scanned directly.</summary>
    private const int SmallRange = 24;

    /// <summary>
    /// Rearranges <paramref name="c"/> so that its first <paramref name="k"/> entries are the k best (in no
    /// particular order among themselves). Requires 0 &lt; k &lt; c.Length.
    /// </summary>
    public static void PartitionTopK(Span<Candidate> c, int k)
    {
        var lo = 0;
        var hi = c.Length;
        while (hi - lo > SmallRange)
        {
            var p = Partition(c, lo, hi, out _);
            if (p == k || p == k - 1)
            {
                return;
            }

            if (p > k)
            {
                hi = p;
            }
            else
            {
                lo = p + 1;
            }
        }

        InsertionSort(c.Slice(lo, hi - lo));
    }

    /// <summary>
    /// Finds the position whose cumulative weight in canonical order first exceeds <paramref name="target"/>:
    /// after the call, <c>c[..pos]</c> holds exactly the candidates ranked before <c>c[pos]</c> and
    /// <c>mass(c[..pos]) ≤ target &lt; mass(c[..(pos + 1)])</c> (up to rounding; a target at or beyond the total
    /// yields the last candidate). <paramref name="massBefore"/> is <c>mass(c[..pos])</c>.
    /// </summary>
    public static int SelectByMass(Span<Candidate> c, double target, out double massBefore)
    {
        var lo = 0;
        var hi = c.Length;
        var acc = 0.0;
        while (hi - lo > SmallRange)
        {
            var p = Partition(c, lo, hi, out var leftMass);
            if (acc + leftMass > target)
            {
                hi = p;
                continue;
            }

            acc += leftMass;
            if (acc + c[p].Weight > target)
            {
                massBefore = acc;
                return p;
            }

            acc += c[p].Weight;
            lo = p + 1;
        }

        if (lo == hi)
        {
            // Rounding left the target at or past the total: the previous pivot (ranked after everything before it) is the last.
            massBefore = acc - c[lo - 1].Weight;
            return lo - 1;
        }

        InsertionSort(c.Slice(lo, hi - lo));
        for (var i = lo; i < hi; i++)
        {
            if (acc + c[i].Weight > target)
            {
                massBefore = acc;
                return i;
            }

            acc += c[i].Weight;
        }

        massBefore = acc - c[hi - 1].Weight;
        return hi - 1;
    }

    /// <summary>Sorts a span in canonical order (for small spans and for callers that need the full order).</summary>
    public static void InsertionSort(Span<Candidate> c)
    {
        for (var i = 1; i < c.Length; i++)
        {
            var x = c[i];
            var j = i - 1;
            while (j >= 0 && Candidate.RanksBefore(x, c[j]))
            {
                c[j + 1] = c[j];
                j--;
            }

            c[j + 1] = x;
        }
    }

    /// <summary>
    /// Partitions c[lo..hi) around a median-of-three pivot: returns the pivot's final index p with everything
    /// ranked before it in [lo, p) and everything after it in (p, hi); <paramref name="leftMass"/> is the weight of [lo, p).
    /// </summary>
    private static int Partition(Span<Candidate> c, int lo, int hi, out double leftMass)
    {
        var mid = lo + ((hi - lo) >> 1);
        var last = hi - 1;
        // Median of three moved to the last slot.
        if (Candidate.RanksBefore(c[mid], c[lo]))
        {
            (c[mid], c[lo]) = (c[lo], c[mid]);
        }

        if (Candidate.RanksBefore(c[last], c[lo]))
        {
            (c[last], c[lo]) = (c[lo], c[last]);
        }

        if (Candidate.RanksBefore(c[mid], c[last]))
        {
            (c[mid], c[last]) = (c[last], c[mid]);
        }

        var pivot = c[last];
        var store = lo;
        var mass = 0.0;
        for (var j = lo; j < last; j++)
        {
            if (Candidate.RanksBefore(c[j], pivot))
            {
                mass += c[j].Weight;
                (c[store], c[j]) = (c[j], c[store]);
                store++;
            }
        }

        (c[store], c[last]) = (c[last], c[store]);
        leftMass = mass;
        return store;
    }
}
