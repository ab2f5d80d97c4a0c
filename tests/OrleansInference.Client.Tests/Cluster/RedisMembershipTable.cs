using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Orleans.Runtime;
using StackExchange.Redis;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>One row of the membership table: a silo incarnation, its endpoint, host name and status.</summary>
public sealed record MembershipRow(IPEndPoint Endpoint, string? HostName, SiloStatus Status);

/// <summary>
/// Reads the membership table that Orleans' Redis clustering keeps (a hash <c>{ServiceId}/members/{ClusterId}</c>
/// of JSON entries, one per silo incarnation): the cluster's own record of which silos are
/// alive. Read straight from Redis, it answers whatever happens to the silos (a grain call such as the management
/// grain's can be stuck on the very silo that was cut off), and it works for containers whose gateways a test cannot
/// use. Tied to Microsoft.Orleans.Clustering.Redis 10.4's entry layout (<c>Status</c>, <c>HostName</c>).
/// </summary>
public static class RedisMembershipTable
{
    /// <summary>Every row of the table (all incarnations, dead ones included).</summary>
    public static async Task<IReadOnlyList<MembershipRow>> ReadAsync(string redis, string serviceId, string clusterId)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync(redis);
        var entries = await connection.GetDatabase().HashGetAllAsync($"{serviceId}/members/{clusterId}");
        var rows = new List<MembershipRow>();
        foreach (var entry in entries)
        {
            var value = entry.Value.ToString();
            if (!value.StartsWith('{'))
            {
                continue; // the table's version field
            }
            using var json = JsonDocument.Parse(value);
            var root = json.RootElement;
            var host = root.TryGetProperty("HostName", out var h) ? h.GetString() : null;
            // {"SiloAddress":{"SiloAddress":"10.0.0.1:11111@154561694"}, ...}: the parsable form (the field name is the display form).
            var address = root.GetProperty("SiloAddress").GetProperty("SiloAddress").GetString()!;
            var endpoint = SiloAddress.FromParsableString(address).Endpoint;
            rows.Add(new MembershipRow(endpoint, host, (SiloStatus)root.GetProperty("Status").GetInt32()));
        }
        return rows;
    }

    /// <summary>The rows whose status is <see cref="SiloStatus.Active"/>.</summary>
    public static async Task<IReadOnlyList<MembershipRow>> ActiveAsync(string redis, string serviceId, string clusterId) =>
        (await ReadAsync(redis, serviceId, clusterId)).Where(r => r.Status == SiloStatus.Active).ToList();

    /// <summary>
    /// Polls the table until exactly the silos at <paramref name="expected"/> are active and returns how long that
    /// took; throws, with the last rows read, when <paramref name="timeout"/> passes first.
    /// </summary>
    public static async Task<TimeSpan> WaitForActiveAsync(string redis, string serviceId, string clusterId,
        IReadOnlyCollection<IPEndPoint> expected, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var rows = await ReadAsync(redis, serviceId, clusterId);
            var active = rows.Where(r => r.Status == SiloStatus.Active).Select(r => r.Endpoint).ToList();
            if (active.Count == expected.Count && expected.All(active.Contains))
            {
                return clock.Elapsed;
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"after {timeout} the membership table reads [{string.Join(", ", rows)}]; " +
                                           $"expected active: [{string.Join(", ", expected)}]");
            }
            await Task.Delay(200, cancellationToken);
        }
    }
}
