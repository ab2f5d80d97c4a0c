using Microsoft.Extensions.Logging;
using OrleansInference.Native;

namespace OrleansInference.Grains.Workers;

/// <summary>
/// One engine on this silo and its agent: registers it with the conductor, reports its load every interval and
/// whenever a job starts or ends (coalesced), re-registers when the conductor does not know it (the conductor's
/// state is soft), forwards its KV events to the index, and unregisters it on shutdown.
/// </summary>
internal sealed partial class HostedWorker : IAsyncDisposable
{
    private readonly IGrainFactory _grains;
    private readonly TimeSpan _interval;
    private readonly ILogger _logger;
    private readonly KvEventForwarder _forwarder;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private bool _rejected;
    private volatile bool _sole;

    public HostedWorker(WorkerKey key, IInferenceEngine engine, WorkerRole role, IGrainFactory grains, int kvShards,
        TimeSpan loadInterval, TimeSpan kvFlushInterval, ILogger logger)
    {
        Key = key;
        Id = key.ToString();
        Engine = engine;
        _grains = grains;
        _interval = loadInterval;
        _logger = logger;
        var info = engine.Info;
        Registration = new WorkerRegistration
        {
            WorkerId = Id,
            Silo = key.Silo.ToParsableString(),
            Model = key.Model,
            Role = role,
            BlockSize = info.BlockSize,
            HashVersion = info.HashVersion,
            Device = info.Device,
            TotalBlocks = engine.GetLoad().TotalBlocks,
            MaxModelLength = info.MaxModelLength,
        };
        _forwarder = new KvEventForwarder(engine, grains, Id, key.Model, kvShards, kvFlushInterval, logger);
    }

    public WorkerKey Key { get; }

    public string Id { get; }

    public IInferenceEngine Engine { get; }

    public WorkerRegistration Registration { get; }

    /// <summary>
    /// Whether the conductor's last answer said this is the only live worker of its model and role (so placement can
    /// only choose it). Stale by at most one load report; false until known and after a failed report.
    /// </summary>
    public bool IsSoleWorker
    {
        get => _sole;
        private set => _sole = value;
    }

    private bool Acknowledge(LoadReportAck ack)
    {
        IsSoleWorker = ack.Known && ack.SoleWorker;
        return ack.Known;
    }

    public WorkerLoad GetLoad() => JobMapping.ToWorkerLoad(Id, Engine.GetLoad());

    /// <summary>Asks for a load report soon (several requests coalesce into one report).</summary>
    public void NotifyLoadChanged()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    public void Start()
    {
        _forwarder.Start();
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    private IConductorGrain Conductor => _grains.GetGrain<IConductorGrain>(Key.Model);

    private async Task RunAsync(CancellationToken ct)
    {
        var registered = false;
        while (!ct.IsCancellationRequested && !_rejected)
        {
            try
            {
                if (!registered)
                {
                    registered = await RegisterAsync().ConfigureAwait(false);
                }
                else if (!Acknowledge(await Conductor.ReportLoadAsync(GetLoad()).ConfigureAwait(false)))
                {
                    Log.Reregistering(_logger, Id);
                    registered = await RegisterAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                IsSoleWorker = false;
                Log.ReportFailed(_logger, ex, Id);
            }
            try
            {
                await _signal.WaitAsync(_interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<bool> RegisterAsync()
    {
        try
        {
            await Conductor.RegisterWorkerAsync(Registration).ConfigureAwait(false);
        }
        catch (InferenceException ex) when (ex.Code == InferenceErrorCode.InvalidRequest)
        {
            // An incompatible engine (block size or hash version) must never receive work: stop trying.
            _rejected = true;
            Log.Rejected(_logger, Id, ex.Message);
            return false;
        }
        Acknowledge(await Conductor.ReportLoadAsync(GetLoad()).ConfigureAwait(false));
        Log.Registered(_logger, Id, Registration.Device, Registration.TotalBlocks);
        return true;
    }

    /// <summary>Stops reporting and forwarding, then unregisters (best effort: the conductor also watches membership).</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        IsSoleWorker = false;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await _forwarder.DisposeAsync().ConfigureAwait(false);
        if (_rejected)
        {
            return;
        }
        try
        {
            await Conductor.UnregisterWorkerAsync(Id).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.UnregisterFailed(_logger, ex, Id);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await _loop.ConfigureAwait(false);
            await _forwarder.DisposeAsync().ConfigureAwait(false);
        }
        _stop.Dispose();
        _signal.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} registered ({Device}, {Blocks} KV blocks)")]
        public static partial void Registered(ILogger logger, string workerId, string device, int blocks);

        [LoggerMessage(Level = LogLevel.Information, Message = "Conductor does not know worker {WorkerId}; registering again")]
        public static partial void Reregistering(ILogger logger, string workerId);

        [LoggerMessage(Level = LogLevel.Error, Message = "Conductor refused worker {WorkerId}: {Reason}")]
        public static partial void Rejected(ILogger logger, string workerId, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not report its load")]
        public static partial void ReportFailed(ILogger logger, Exception ex, string workerId);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Worker {WorkerId} could not unregister")]
        public static partial void UnregisterFailed(ILogger logger, Exception ex, string workerId);
    }
}
