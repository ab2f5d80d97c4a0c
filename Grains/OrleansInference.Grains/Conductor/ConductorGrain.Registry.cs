using Microsoft.Extensions.Logging;

namespace OrleansInference.Grains.Conductor;

/// <summary>Keeping the cluster's model registry told about this model's workers.</summary>
internal sealed partial class ConductorGrain
{
    private Task _publishing = Task.CompletedTask;
    private bool _publishPending;
    private int _maxModelLength;
    private string? _device;

    /// <summary>
    /// Sends the registry this model's current workers. Calls while a report is in flight coalesce into one more
    /// report; the task completes once a report made after this call was sent (or failed: the refresh timer retries).
    /// Nothing is sent before a worker registered with this activation (a reactivated conductor knows nothing yet).
    /// </summary>
    private Task PublishWorkersAsync()
    {
        _publishPending = true;
        if (_publishing.IsCompleted)
        {
            _publishing = PublishLoopAsync();
        }
        return _publishing;
    }

    private async Task PublishLoopAsync()
    {
        while (_publishPending)
        {
            _publishPending = false;
            if (_device is null)
            {
                return;
            }
            var report = new ModelWorkersReport
            {
                Model = _model,
                MaxModelLength = _maxModelLength,
                Device = _device,
                WorkerSilos = _workers.Values.Select(w => w.Registration.Silo).ToList(),
            };
            try
            {
                await GrainFactory.GetModelRegistry().ReportAsync(report);
            }
            catch (Exception ex)
            {
                Log.RegistryReportFailed(_logger, ex, _model);
                return;
            }
        }
    }

    /// <summary>What the registry says about the model comes from its workers' registrations.</summary>
    private void NoteModelCard(WorkerRegistration registration)
    {
        if (_device is null || _workers.Count == 1)
        {
            _device = registration.Device;
            _maxModelLength = registration.MaxModelLength;
        }
    }

    /// <summary>Re-reports periodically so that a registry that lost its state (its silo died) learns the model again.</summary>
    private void StartRegistryRefresh()
    {
        var period = _options.ModelRegistryRefresh;
        if (period <= TimeSpan.Zero)
        {
            return;
        }
        this.RegisterGrainTimer(_ => _workers.Count > 0 ? PublishWorkersAsync() : Task.CompletedTask,
            new GrainTimerCreationOptions(period, period) { Interleave = true });
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report the workers of {Model} to the model registry (retried on the next refresh)")]
        public static partial void RegistryReportFailed(ILogger logger, Exception ex, string model);
    }
}
