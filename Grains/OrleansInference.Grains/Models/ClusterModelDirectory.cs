using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansInference.Grains.Hosting;

namespace OrleansInference.Grains.Models;

/// <summary>How a model stands as seen from this silo (see <see cref="ClusterModelDirectory.FindAsync"/>).</summary>
public enum ClusterModelState
{
    /// <summary>Neither the registry nor this silo has ever seen the model.</summary>
    Unknown,

    /// <summary>The registry lists live workers of the model.</summary>
    Live,

    /// <summary>The registry lists the model with no live worker: its workers are all gone.</summary>
    Down,

    /// <summary>
    /// This silo has seen the model, but the registry does not list it now (it lost its state and the conductors have
    /// not re-reported yet): only the model's conductor can tell whether it has workers.
    /// </summary>
    Unlisted,
}

/// <summary>A model lookup: its state and the last facts known about it (null when unknown).</summary>
public sealed record ClusterModelLookup(ClusterModelState State, ClusterModel? Model);

/// <summary>
/// This silo's view of the models the whole cluster serves: a copy of the model registry
/// (<see cref="IModelRegistryGrain"/>) kept for <see cref="InferenceOptions.ModelDirectoryCacheTime"/>, refreshed in the
/// background every <see cref="InferenceOptions.ModelRegistryRefresh"/> and at once when a model is missing or down in
/// the copy (at most every quarter of a second, so unknown names cannot flood the registry). It remembers every model
/// it has seen: the registry's state is soft, and a model whose workers all left must stay "down", not become
/// "unknown", when the registry forgets it. Used for models this silo does not serve itself.
/// </summary>
public sealed partial class ClusterModelDirectory : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan MinRefresh = TimeSpan.FromMilliseconds(250);
    private readonly IGrainFactory _grains;
    private readonly InferenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ClusterModel> _seen = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyList<ClusterModel>? _listed;
    private long _fetchedAt;
    private Task<IReadOnlyList<ClusterModel>>? _fetch;
    private Task _poll = Task.CompletedTask;

    /// <summary>Creates the directory (one per silo, registered by <c>AddInference</c>).</summary>
    public ClusterModelDirectory(IGrainFactory grains, IOptions<InferenceOptions> options, TimeProvider time, ILogger<ClusterModelDirectory> logger)
    {
        _grains = grains;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Models with live workers somewhere in the cluster, by name.</summary>
    public async Task<IReadOnlyList<ClusterModel>> GetLiveModelsAsync(CancellationToken ct)
    {
        var listed = await GetListedAsync(_options.ModelDirectoryCacheTime, ct);
        return listed.Where(m => m.LiveWorkers > 0).ToList();
    }

    /// <summary>Where <paramref name="model"/> stands; a model missing or down in the kept copy is looked up again first.</summary>
    public async Task<ClusterModelLookup> FindAsync(string model, CancellationToken ct)
    {
        var found = Find(await GetListedAsync(_options.ModelDirectoryCacheTime, ct), model);
        if (found is not { LiveWorkers: > 0 })
        {
            found = Find(await GetListedAsync(MinRefresh, ct), model);
        }
        if (found is not null)
        {
            return new ClusterModelLookup(found.LiveWorkers > 0 ? ClusterModelState.Live : ClusterModelState.Down, found);
        }
        lock (_lock)
        {
            return _seen.TryGetValue(model, out var seen)
                ? new ClusterModelLookup(ClusterModelState.Unlisted, seen with { LiveWorkers = 0 })
                : new ClusterModelLookup(ClusterModelState.Unknown, null);
        }
    }

    /// <summary>The registry's list, from a copy at most <paramref name="maxAge"/> old; concurrent readers share one call.</summary>
    private async Task<IReadOnlyList<ClusterModel>> GetListedAsync(TimeSpan maxAge, CancellationToken ct)
    {
        Task<IReadOnlyList<ClusterModel>> fetch;
        lock (_lock)
        {
            if (_listed is not null && _time.GetElapsedTime(_fetchedAt) <= maxAge)
            {
                return _listed;
            }
            if (_fetch is null || _fetch.IsCompleted)
            {
                _fetch = FetchAsync();
            }
            fetch = _fetch;
        }
        return await fetch.WaitAsync(ct);
    }

    private async Task<IReadOnlyList<ClusterModel>> FetchAsync()
    {
        var models = await _grains.GetModelRegistry().GetModelsAsync();
        lock (_lock)
        {
            _listed = models;
            _fetchedAt = _time.GetTimestamp();
            foreach (var m in models)
            {
                _seen[m.Id] = m;
            }
        }
        return models;
    }

    private static ClusterModel? Find(IReadOnlyList<ClusterModel> models, string id)
    {
        foreach (var m in models)
        {
            if (string.Equals(m.Id, id, StringComparison.Ordinal)) return m;
        }
        return null;
    }

    void ILifecycleParticipant<ISiloLifecycle>.Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ClusterModelDirectory), ServiceLifecycleStage.Active, StartPolling, StopPollingAsync);

    private Task StartPolling(CancellationToken ct)
    {
        if (_options.ModelRegistryRefresh > TimeSpan.Zero)
        {
            _poll = PollAsync(_stop.Token);
        }
        return Task.CompletedTask;
    }

    private async Task StopPollingAsync(CancellationToken ct)
    {
        await _stop.CancelAsync();
        await _poll.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>Keeps the copy (and the memory of seen models) current even while nobody asks for other silos' models.</summary>
    private async Task PollAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_options.ModelRegistryRefresh, _time, ct).ConfigureAwait(false);
                await GetListedAsync(TimeSpan.Zero, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRefreshFailed(_logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading the cluster's model registry failed (retried on the next refresh)")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
