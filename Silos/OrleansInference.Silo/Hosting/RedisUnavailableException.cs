namespace OrleansInference.Silo.Hosting;

/// <summary>The Redis server named by <c>Orleans:Redis</c> did not answer within <c>Orleans:RedisStartupTimeout</c>; the silo did not start.</summary>
public sealed class RedisUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisUnavailableException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
