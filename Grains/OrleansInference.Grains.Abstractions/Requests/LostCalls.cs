using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OrleansInference.Grains;

/// <summary>
/// Failures of a grain call that mean its target went away — its silo died, stopped or was cut off, or the
/// activation holding a stream's enumerator is gone — rather than that the call itself was wrong. Whoever made the call
/// can make it again (a request grain moves the job to another worker; an HTTP response re-attaches to its request).
/// </summary>
public static class LostCalls
{
    /// <summary>Whether <paramref name="exception"/> (or the one exception it wraps) is such a failure.</summary>
    public static bool IsLostTarget(Exception exception) => exception switch
    {
        SiloUnavailableException or ConnectionFailedException or OrleansMessageRejectionException => true,
        // The stream's enumerator died with its activation (its silo was cut off or restarted), or a call to it timed out.
        EnumerationAbortedException or TimeoutException => true,
        AggregateException { InnerExceptions.Count: 1 } a => IsLostTarget(a.InnerExceptions[0]),
        _ => false,
    };
}
