using Orleans.Runtime;
using OrleansInference.Grains;
using OrleansInference.Grains.Workers;
using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Http.Admin;

/// <summary>
/// Read-only operational endpoints under <c>/admin</c> used by chaos and failover harnesses: this silo's workers and
/// their KV block accounting, and any request's status (migrations, resumes, recovery times). They expose no prompt
/// or output text. Like the dashboard they have no authentication of their own: publish them only where the metrics
/// endpoint is published.
/// </summary>
internal static class AdminEndpoints
{
    public static void MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var admin = endpoints.MapGroup("/admin");
        admin.MapGet("/workers", (EngineHost host, ILocalSiloDetails silo) => Results.Json(Workers(host, silo), AdminJsonContext.Default.AdminWorkersDto));
        admin.MapGet("/requests/{id}", async (string id, IGrainFactory grains) =>
        {
            if (!RequestIds.IsValid(id))
            {
                return Results.BadRequest();
            }
            var status = await grains.GetGrain<IRequestGrain>(id).GetStatusAsync();
            return Results.Json(ToDto(id, status), AdminJsonContext.Default.AdminRequestDto);
        });
    }

    internal static AdminWorkersDto Workers(EngineHost host, ILocalSiloDetails silo)
    {
        var workers = host.Workers.Select(w =>
        {
            var l = w.Engine.GetLoad();
            return new AdminWorkerDto(w.Id, w.Key.Model, w.Engine.Info.Device, l.Running, l.Waiting, l.TotalBlocks, l.FreeBlocks, l.CachedBlocks,
                l.TotalBlocks - l.FreeBlocks - l.CachedBlocks);
        }).OrderBy(w => w.WorkerId, StringComparer.Ordinal).ToList();
        return new AdminWorkersDto(silo.SiloAddress.ToParsableString(), workers);
    }

    internal static AdminRequestDto ToDto(string id, RequestStatus s) => new(
        id, s.State.ToString(), s.DeliveredTokens, s.FinishReasons.Select(r => r?.ToString()).ToList(), s.WorkerId, s.Migrations, s.Resumes,
        s.RecoveryTimesMs, s.Error);
}
