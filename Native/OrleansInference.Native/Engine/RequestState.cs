using System.Diagnostics;
using System.Threading.Channels;
using OrleansInference.Native.Scheduling;

namespace OrleansInference.Native.Engine;

/// <summary>An accepted request as the engine thread tracks it: its samples, its output channel and its clock.</summary>
internal sealed class RequestState
{
    private readonly Channel<GenerationUpdate> _channel =
        Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

    public RequestState(GenerationRequest request, int[] prompt, ulong seed, ulong hashRoot, long arrival)
    {
        Request = request;
        Id = request.RequestId;
        Prompt = prompt;
        Resumed = [.. request.ResumeOutputTokenIds];
        Seed = seed;
        HashRoot = hashRoot;
        Arrival = arrival;
        SubmittedAt = Stopwatch.GetTimestamp();
    }

    public string Id { get; }

    public GenerationRequest Request { get; }

    public SamplingParams Sampling => Request.Sampling;

    /// <summary>Prompt tokens (without resumed output).</summary>
    public int[] Prompt { get; }

    /// <summary>Output delivered by an earlier attempt: prefilled, never emitted again.</summary>
    public int[] Resumed { get; }

    public ulong Seed { get; }

    public ulong HashRoot { get; }

    public long Arrival { get; }

    public long SubmittedAt { get; }

    /// <summary>When any sample was first scheduled (null while queued).</summary>
    public long? ScheduledAt { get; set; }

    public SampleState[] Samples { get; set; } = [];

    /// <summary>The sequence that prefills the prompt and is forked into the other samples once its logits exist.</summary>
    public Sequence? PromptSequence { get; set; }

    public bool Forked { get; set; }

    public int Unfinished { get; set; }

    public ChannelReader<GenerationUpdate> Reader => _channel.Reader;

    public ChannelWriter<GenerationUpdate> Writer => _channel.Writer;

    public TimeSpan Since(long timestamp) => Stopwatch.GetElapsedTime(SubmittedAt, timestamp);

    /// <summary>Sequences that currently exist for this request (one before the fork, N after).</summary>
    public IEnumerable<Sequence> Sequences()
    {
        if (!Forked)
        {
            if (PromptSequence is not null) yield return PromptSequence;
            yield break;
        }
        foreach (var s in Samples)
        {
            if (s.Sequence is not null) yield return s.Sequence;
        }
    }
}
