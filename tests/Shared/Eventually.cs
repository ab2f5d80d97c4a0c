namespace OrleansInference.Tests.Shared;

/// <summary>Polling for a state the cluster reaches asynchronously.</summary>
public static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until it holds; <paramref name="lastSeen"/> says what was seen instead on a time-out.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, string what, CancellationToken ct, int seconds = 30, Func<string>? lastSeen = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {seconds} s waiting until {what}." + (lastSeen is null ? "" : $" Last seen: {lastSeen()}"));
            }
            await Task.Delay(50, ct);
        }
    }
}
