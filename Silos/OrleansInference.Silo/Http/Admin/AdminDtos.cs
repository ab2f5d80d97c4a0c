using System.Text.Json.Serialization;

namespace OrleansInference.Silo.Http.Admin;

/// <summary>
/// One engine (worker) on this silo, for process-level harnesses: <see cref="UsedBlocks"/> counts KV blocks held by
/// sequences (running or waiting requests); blocks kept only by the prefix cache are <see cref="CachedBlocks"/> and
/// free-able. After every request has ended, a leak-free worker shows <c>used_blocks == 0</c>, <c>running == 0</c>,
/// <c>waiting == 0</c>.
/// </summary>
internal sealed record AdminWorkerDto(
    string WorkerId,
    string Model,
    string Device,
    int Running,
    int Waiting,
    int TotalBlocks,
    int FreeBlocks,
    int CachedBlocks,
    int UsedBlocks);

/// <summary><c>GET /admin/workers</c>: this silo and its workers.</summary>
internal sealed record AdminWorkersDto(string Silo, IReadOnlyList<AdminWorkerDto> Workers);

/// <summary><c>GET /admin/requests/{id}</c>: a request grain's status (for failover tables).</summary>
internal sealed record AdminRequestDto(
    string RequestId,
    string State,
    IReadOnlyList<int> DeliveredTokens,
    IReadOnlyList<string?> FinishReasons,
    string? WorkerId,
    int Migrations,
    int Resumes,
    IReadOnlyList<double> RecoveryTimesMs,
    string? Error);

/// <summary>Snake-case JSON of the admin DTOs.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(AdminWorkersDto))]
[JsonSerializable(typeof(AdminRequestDto))]
internal sealed partial class AdminJsonContext : JsonSerializerContext;
