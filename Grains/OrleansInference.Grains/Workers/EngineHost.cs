using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using OrleansInference.Grains.Hosting;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// Owns this silo's engines. Creates them early in silo startup (so a worker grain can never activate before its
/// engine exists), starts their agents once the silo is active (registration needs grain calls), and on shutdown
/// unregisters the workers before the silo stops taking calls, then disposes the engines.
/// </summary>
internal sealed partial class EngineHost : ILifecycleParticipant<ISiloLifecycle>, IModelCatalog
{
    private readonly InferenceOptions _options;
    private readonly IEngineFactory _factory;
    private readonly ILocalSiloDetails _silo;
    private readonly IGrainFactory _grains;
    private readonly InferenceMetrics _metrics;
    private readonly ILogger _logger;
    private EngineSet? _engines;
    private IReadOnlyDictionary<string, HostedWorker> _workers = new Dictionary<string, HostedWorker>();
    private IReadOnlyList<ServedModel> _models = [];

    public EngineHost(IOptions<InferenceOptions> options, IEngineFactory factory, ILocalSiloDetails silo, IGrainFactory grains,
        InferenceMetrics metrics, ILogger<EngineHost> logger)
    {
        _options = options.Value;
        _factory = factory;
        _silo = silo;
        _grains = grains;
        _metrics = metrics;
        _logger = logger;
    }

    public IReadOnlyList<ServedModel> Models => _models;

    /// <summary>Workers hosted here, by worker id.</summary>
    public IEnumerable<HostedWorker> Workers => _workers.Values;

    public bool TryGetWorker(string workerId, out HostedWorker worker) => _workers.TryGetValue(workerId, out worker!);

    /// <summary>An engine of <paramref name="model"/> on this silo (for its tokenizer and limits), if any.</summary>
    public IInferenceEngine? FindEngine(string model)
    {
        foreach (var w in _workers.Values)
        {
            if (w.Key.Model == model) return w.Engine;
        }
        return null;
    }

    /// <summary>
    /// The worker of <paramref name="model"/> on this silo when it is the only live worker of that model in the cluster
    /// (as of its last load report), else null.
    /// </summary>
    public HostedWorker? FindSoleWorker(string model)
    {
        HostedWorker? found = null;
        foreach (var w in _workers.Values)
        {
            if (w.Key.Model != model) continue;
            if (found is not null) return null;
            found = w;
        }
        return found is { IsSoleWorker: true } ? found : null;
    }

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(EngineHost), ServiceLifecycleStage.ApplicationServices, CreateEnginesAsync, DisposeEnginesAsync);
        lifecycle.Subscribe(nameof(EngineHost), ServiceLifecycleStage.Active, StartWorkersAsync, StopWorkersAsync);
    }

    private Task CreateEnginesAsync(CancellationToken ct)
    {
        if (_options.WorkersPerSilo <= 0)
        {
            return Task.CompletedTask;
        }
        _engines = _factory.Create(_options, _options.WorkersPerSilo);
        var workers = new Dictionary<string, HostedWorker>(StringComparer.Ordinal);
        var models = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
        for (var i = 0; i < _engines.Engines.Count; i++)
        {
            var engine = _engines.Engines[i];
            var key = new WorkerKey(_silo.SiloAddress, engine.Info.ModelId, i);
            var worker = new HostedWorker(key, engine, _options.Role, _grains, _options.KvIndexShards,
                _options.LoadReportInterval, _options.KvEventFlushInterval, _logger);
            workers.Add(worker.Id, worker);
            models.TryAdd(engine.Info.ModelId, new ServedModel(engine.Info.ModelId, engine.Info.MaxModelLength, engine.Info.Device));
            _metrics.AddEngine(worker.Id, key.Model, engine.GetLoad);
        }
        _workers = workers;
        _models = [.. models.Values];
        Log.EnginesCreated(_logger, workers.Count, string.Join(", ", models.Keys));
        return Task.CompletedTask;
    }

    private Task StartWorkersAsync(CancellationToken ct)
    {
        foreach (var w in _workers.Values)
        {
            w.Start();
        }
        return Task.CompletedTask;
    }

    private async Task StopWorkersAsync(CancellationToken ct)
    {
        await Task.WhenAll(_workers.Values.Select(w => w.StopAsync(ct))).ConfigureAwait(false);
    }

    private async Task DisposeEnginesAsync(CancellationToken ct)
    {
        foreach (var w in _workers.Values)
        {
            _metrics.RemoveEngine(w.Id);
            await w.DisposeAsync().ConfigureAwait(false);
        }
        _workers = new Dictionary<string, HostedWorker>();
        _models = [];
        if (_engines is not null)
        {
            await _engines.DisposeAsync().ConfigureAwait(false);
            _engines = null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Created {Count} engine(s) serving {Models}")]
        public static partial void EnginesCreated(ILogger logger, int count, string models);
    }
}
