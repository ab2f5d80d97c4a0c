using System.Text.Json;
using Orleans.Runtime;
using StackExchange.Redis;

namespace OrleansInference.Client.Tests.Cluster;

/// <summary>One row of the membership table: a silo incarnation, its host name and status.</summary>
public sealed record MembershipRow(string SiloAddress, string? HostName, SiloStatus Status);

/// <summary>
/// Reads the membership table that Orleans' Redis clustering keeps (a hash <c>{ServiceId}/members/{ClusterId}</c> of
/// JSON entries), for clusters whose gateways a test cannot use: containers advertise addresses that are theirs, not
/// the test's. Tied to Microsoft.Orleans.Clustering.Redis 10.4's entry layout (<c>Status</c>, <c>HostName</c>).
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
            rows.Add(new MembershipRow(entry.Name.ToString(), host, (SiloStatus)root.GetProperty("Status").GetInt32()));
        }
        return rows;
    }

    /// <summary>Host names of the silos the table lists as active.</summary>
    public static async Task<IReadOnlyList<string>> ActiveHostsAsync(string redis, string serviceId, string clusterId) =>
        (await ReadAsync(redis, serviceId, clusterId)).Where(r => r.Status == SiloStatus.Active).Select(r => r.HostName ?? r.SiloAddress)
            .Order(StringComparer.Ordinal).ToList();
}
