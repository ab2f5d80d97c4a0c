using System.Collections.Concurrent;
using System.Globalization;
using Orleans.Storage;

namespace OrleansInference.Client.Tests.Failover;

/// <summary>
/// Grain storage shared by every silo of an in-process cluster, standing in for Redis: it outlives any one silo
/// (Orleans' memory storage keeps state in grains, which die with their silo). Checks ETags like a real provider.
/// </summary>
internal sealed class SharedGrainStorage : IGrainStorage
{
    private readonly ConcurrentDictionary<(string, GrainId), (object State, string ETag)> _entries = new();
    private long _version;

    public int Writes => (int)Interlocked.Read(ref _version);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (_entries.TryGetValue((stateName, grainId), out var entry))
        {
            grainState.State = (T)entry.State;
            grainState.ETag = entry.ETag;
            grainState.RecordExists = true;
        }
        else
        {
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = (stateName, grainId);
        var etag = Interlocked.Increment(ref _version).ToString(CultureInfo.InvariantCulture);
        lock (_entries)
        {
            var exists = _entries.TryGetValue(key, out var current);
            if (exists ? current.ETag != grainState.ETag : grainState.ETag is not null)
            {
                throw new InconsistentStateException($"ETag mismatch for {grainId}", exists ? current.ETag : "none", grainState.ETag ?? "none");
            }
            _entries[key] = (grainState.State!, etag);
        }
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _entries.TryRemove((stateName, grainId), out _);
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
