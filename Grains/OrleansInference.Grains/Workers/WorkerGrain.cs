using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansInference.Grains.Placement;
using OrleansInference.Grains.Requests;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// A thin, addressable front for one engine of the silo its key names. Reentrant: many jobs stream at once, and
/// load/snapshot queries must never wait behind them.
/// </summary>
[SiloPinnedPlacement]
[Reentrant]
internal sealed class WorkerGrain(EngineHost host, ILogger<WorkerGrain> logger) : Grain, IWorkerGrain, IRequestPreparation
{
    private HostedWorker _worker = null!;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = this.GetPrimaryKeyString();
        if (!host.TryGetWorker(key, out _worker))
        {
            throw new InferenceException(InferenceErrorCode.Unavailable, $"Worker '{key}' is not hosted on this silo (its engine has stopped or never existed).");
        }
        return Task.CompletedTask;
    }

    private IInferenceEngine Engine => _worker.Engine;

    public IAsyncEnumerable<TokenChunk> RunAsync(WorkerJob job, CancellationToken cancellationToken = default) =>
        JobStream.RunAsync(_worker, job, logger, cancellationToken);

    public Task<PreparedRequest> PrepareAsync(string requestId, InferenceRequest request) =>
        Task.FromResult(RequestValidator.Prepare(requestId, request, Engine, () => (ulong)Random.Shared.NextInt64()));

    public Task AbortAsync(string requestId)
    {
        if (Engine.Abort(requestId))
        {
            _worker.NotifyLoadChanged();
        }
        return Task.CompletedTask;
    }

    public Task<WorkerLoad> GetLoadAsync() => Task.FromResult(_worker.GetLoad());

    public Task<WorkerRegistration> GetRegistrationAsync() => Task.FromResult(_worker.Registration);

    public Task<KvSnapshotDto> GetKvSnapshotAsync()
    {
        var snapshot = Engine.GetKvSnapshot();
        return Task.FromResult(new KvSnapshotDto(_worker.Id, snapshot.Sequence, snapshot.BlockHashes));
    }

    public Task<byte[]?> ExportKvAsync(IReadOnlyList<int> tokenIds, string? cacheSalt) => Engine.ExportKvAsync(tokenIds, cacheSalt);

    public async Task<int> ImportKvAsync(byte[] payload)
    {
        try
        {
            return await Engine.ImportKvAsync(payload);
        }
        catch (InvalidDataException ex)
        {
            throw new InferenceException(InferenceErrorCode.InvalidRequest, ex.Message, "payload");
        }
    }
}
