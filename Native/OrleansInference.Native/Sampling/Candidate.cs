namespace OrleansInference.Native.Sampling;

/// <summary>One token in the running: its order key ((logit − max) / temperature), id and unnormalised probability.</summary>
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
    /// The canonical order: higher key (= higher probability) first, ties to the lower id. A strict total order, so
    /// "the token at rank r" has one answer however the candidates were gathered.
    /// </summary>
    public static bool RanksBefore(in Candidate a, in Candidate b) => a.Key > b.Key || (a.Key == b.Key && a.Id < b.Id);
}
