using System.Net;
using System.Text.Json;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// Fills in the cluster's own count of worker migrations for requests whose client could not see it (HTTP), from a
/// silo's <c>GET /admin/requests/{id}</c> where the silo has that endpoint; left unknown otherwise.
/// </summary>
public static class RequestStatusProbe
{
    /// <summary>Asks <paramref name="silo"/> about every ledger without a migration count; returns how many it answered.</summary>
    public static async Task<int> FillMigrationsAsync(Uri silo, IEnumerable<TokenLedger> ledgers, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = silo, Timeout = TimeSpan.FromSeconds(10) };
        var answered = 0;
        foreach (var ledger in ledgers.Where(l => l.Migrations is null))
        {
            using var response = await http.GetAsync($"admin/requests/{Uri.EscapeDataString(ledger.Request.Id)}", cancellationToken);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return answered; // no admin API on this silo
            }
            if (response.StatusCode != HttpStatusCode.OK)
            {
                continue;
            }
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            ledger.Migrations = json.RootElement.GetProperty("migrations").GetInt32();
            answered++;
        }
        return answered;
    }
}
