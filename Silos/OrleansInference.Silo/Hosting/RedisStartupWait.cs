using System.Diagnostics;
using StackExchange.Redis;

namespace OrleansInference.Silo.Hosting;

/// <summary>
/// Holds the silo's start until the Redis server that keeps its membership and request checkpoints answers a PING, so
/// Redis and the silos may start in any order (compose without health-gated start, plain processes, a Redis restart
/// during a rollout). Orleans' Redis providers give up at once when the first connection fails, which took a silo down
/// whenever it started a moment before Redis listened. After <see cref="OrleansHostingOptions.RedisStartupTimeout"/>
/// it fails the start with a <see cref="RedisUnavailableException"/> that names the endpoint and the last error.
/// Registered before Orleans' own hosted service, so it runs first.
/// </summary>
internal sealed partial class RedisStartupWait(string connectionString, TimeSpan timeout, ILogger<RedisStartupWait> logger) : IHostedService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ConnectTimeout = (int)Math.Clamp(timeout.TotalMilliseconds, 100, 2000);
        string endpoints = string.Join(", ", options.EndPoints.Select(e => e.ToString()));
        long started = Stopwatch.GetTimestamp();
        var retry = FirstRetry;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
                await connection.GetDatabase().PingAsync().ConfigureAwait(false);
                if (attempt > 1)
                {
                    LogRedisAnswered(logger, endpoints, attempt, Stopwatch.GetElapsedTime(started).TotalSeconds);
                }

                return;
            }
            catch (RedisException e)
            {
                var waited = Stopwatch.GetElapsedTime(started);
                if (waited + retry > timeout)
                {
                    throw new RedisUnavailableException(
                        $"Redis at {endpoints} (Orleans:Redis) did not answer within {timeout.TotalSeconds:0.#} s " +
                        $"(Orleans:RedisStartupTimeout; {attempt} attempts): {e.Message}", e);
                }

                LogWaitingForRedis(logger, endpoints, attempt, e.Message);
            }

            await Task.Delay(retry, cancellationToken).ConfigureAwait(false);
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LongestRetry.Ticks));
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for Redis at {Endpoints} before starting the silo (attempt {Attempt}): {Error}")]
    private static partial void LogWaitingForRedis(ILogger logger, string endpoints, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis at {Endpoints} answered after {Attempts} attempts ({Seconds:F1} s); starting the silo")]
    private static partial void LogRedisAnswered(ILogger logger, string endpoints, int attempts, double seconds);
}
