using Microsoft.Extensions.Logging;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansInference.Grains.Requests;

/// <summary>
/// Reads and writes one request grain's <see cref="RequestCheckpoint"/> in the grain storage named
/// <see cref="StorageName"/> (Redis when the silo has a Redis connection, memory otherwise). Writes never block the
/// token path: <see cref="Save"/> only takes a snapshot request; one write runs at a time on the grain's scheduler and
/// a newer snapshot replaces a pending one. Reads happen only when a caller resumes a request this activation does
/// not know, so a brand-new request never waits for storage.
/// </summary>
internal sealed partial class RequestCheckpointStore(IGrainStorage storage, Serializer serializer, GrainId grainId, ILogger logger)
{
    /// <summary>Name of the grain storage provider that holds request checkpoints.</summary>
    public const string StorageName = "inference-requests";

    private const string StateName = "request";
    private readonly GrainState<RequestCheckpointRecord> _state = new(new RequestCheckpointRecord());
    private Func<RequestCheckpoint>? _pending;
    private Task _writing = Task.CompletedTask;
    private bool _writeLoopRunning;

    /// <summary>Writes completed so far (diagnostics and tests).</summary>
    public int Writes { get; private set; }

    /// <summary>The stored checkpoint, or null when none exists.</summary>
    public async Task<RequestCheckpoint?> ReadAsync()
    {
        await storage.ReadStateAsync(StateName, grainId, _state);
        return _state.RecordExists && _state.State is { Data.Length: > 0 } record
            ? serializer.Deserialize<RequestCheckpoint>(record.Data)
            : null;
    }

    /// <summary>Schedules a write of <paramref name="snapshot"/>'s result (taken when the write starts).</summary>
    public void Save(Func<RequestCheckpoint> snapshot)
    {
        _pending = snapshot;
        if (!_writeLoopRunning)
        {
            _writeLoopRunning = true;
            _writing = WriteLoopAsync();
        }
    }

    /// <summary>Completes when every scheduled write has been attempted.</summary>
    public Task FlushAsync() => _writing;

    private async Task WriteLoopAsync()
    {
        try
        {
            while (_pending is { } next)
            {
                _pending = null;
                _state.State = new RequestCheckpointRecord { Data = serializer.SerializeToArray(next()) };
                try
                {
                    await storage.WriteStateAsync(StateName, grainId, _state);
                    Writes++;
                }
                catch (InconsistentStateException ex)
                {
                    // Another activation wrote since we read (a split brain during a membership change): re-read the
                    // ETag and let the next snapshot win; the newest activation is the one callers talk to.
                    Log.WriteFailed(logger, ex, grainId.ToString());
                    await RefreshETagAsync();
                }
                catch (Exception ex)
                {
                    // A lost checkpoint only weakens recovery from this grain's own silo dying.
                    Log.WriteFailed(logger, ex, grainId.ToString());
                }
            }
        }
        finally
        {
            _writeLoopRunning = false;
        }
    }

    private async Task RefreshETagAsync()
    {
        try
        {
            var probe = new GrainState<RequestCheckpointRecord>(new RequestCheckpointRecord());
            await storage.ReadStateAsync(StateName, grainId, probe);
            _state.ETag = probe.ETag;
            _state.RecordExists = probe.RecordExists;
        }
        catch (Exception ex)
        {
            Log.WriteFailed(logger, ex, grainId.ToString());
        }
    }

    /// <summary>Deletes the checkpoint (the request is over and its output no longer kept).</summary>
    public async Task ClearAsync()
    {
        await _writing;
        if (!_state.RecordExists && _state.ETag is null)
        {
            return;
        }
        try
        {
            await storage.ClearStateAsync(StateName, grainId, _state);
        }
        catch (Exception ex)
        {
            Log.WriteFailed(logger, ex, grainId.ToString());
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "Request grain {GrainId}: checkpoint storage failed")]
        public static partial void WriteFailed(ILogger logger, Exception ex, string grainId);
    }
}
