namespace OrleansInference.Native.Sampling;

/// <summary>One token still in the running: its tempered logit, id and unnormalised probability.</summary>
internal struct Candidate
{
    public float Key;
    public int Id;
    public float Weight;

    public Candidate(float key, int id, float weight)
    {
        Key = key;
        Id = id;
        Weight = weight;
    }

    /// <summary>
    /// The canonical order: higher tempered logit (= higher probability) first, ties to the lower id. It is a strict
    /// total order, so every selection below has one answer whatever the partition steps were.
    /// </summary>
    public static bool RanksBefore(in Candidate a, in Candidate b) => a.Key > b.Key || (a.Key == b.Key && a.Id < b.Id);
}
