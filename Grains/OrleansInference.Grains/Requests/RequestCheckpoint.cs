namespace OrleansInference.Grains.Requests;

/// <summary>
/// What a new activation of a request grain needs to continue a request whose previous activation died with its
/// silo: the prepared request (prompt ids, sampling with its fixed seed) and, per sample, the tokens known to be
/// delivered and how the sample ended. Text and logprobs are not kept: an undelivered tail is generated again from
/// the prompt plus the delivered tokens, which the (seed, position) sampler makes exact.
/// Public settable properties so both the Orleans serializer and JSON grain-storage serializers can round-trip it.
/// </summary>
[GenerateSerializer]
internal sealed class RequestCheckpoint
{
    [Id(0)] public string Model { get; set; } = "";
    [Id(1)] public int[] PromptTokenIds { get; set; } = [];
    [Id(2)] public ulong[] BlockHashes { get; set; } = [];
    [Id(3)] public SamplingOptions Sampling { get; set; } = new();
    [Id(4)] public InferencePriority Priority { get; set; }
    [Id(5)] public string? CacheSalt { get; set; }
    /// <summary>Per sample, the output tokens delivered so far (may lag the live activation by a throttle interval).</summary>
    [Id(6)] public int[][] Delivered { get; set; } = [];
    /// <summary>Per sample, how it ended (null while running).</summary>
    [Id(7)] public InferenceFinishReason?[] Finished { get; set; } = [];
    [Id(8)] public RequestState State { get; set; }
    [Id(9)] public int Migrations { get; set; }
    [Id(10)] public string? Error { get; set; }
    /// <summary>Activations that ran this request (0 for the first); makes worker job ids unique across activations.</summary>
    [Id(11)] public int Generation { get; set; }
    /// <summary>Worker jobs running when written (job id → worker id), aborted by a resuming activation.</summary>
    [Id(12)] public Dictionary<string, string> ActiveJobs { get; set; } = [];
    /// <summary>Recovery times so far (ms).</summary>
    [Id(13)] public double[] RecoveryTimesMs { get; set; } = [];

    public PreparedRequest ToPrepared(string requestId) =>
        new(requestId, Model, PromptTokenIds, BlockHashes, Sampling, Priority, CacheSalt);
}

/// <summary>
/// What grain storage holds for a request: the checkpoint as Orleans binary serialization. Grain-storage serializers
/// (Orleans' JSON settings among them) may drop members equal to the CLR default, which would turn a greedy request's
/// temperature 0 back into the property's default of 1 on the way through Redis (found by the chaos run); bytes
/// round-trip exactly whatever the storage's serializer.
/// </summary>
[GenerateSerializer]
internal sealed class RequestCheckpointRecord
{
    [Id(0)] public byte[] Data { get; set; } = [];
}
