using System.Diagnostics;

namespace OrleansInference.Benchmarks.Benchmarks;

/// <summary>Polls the GC heap size while a benchmark runs; reports it with the process's peak working set.</summary>
internal sealed class PeakMemorySampler : IDisposable
{
    private readonly Timer _timer;
    private long _peakHeap;

    public PeakMemorySampler() => _timer = new Timer(_ => Sample(), null, 0, 10);

    public MemoryResult Stop()
    {
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        Sample();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new MemoryResult(process.PeakWorkingSet64 / 1048576.0, Interlocked.Read(ref _peakHeap) / 1048576.0);
    }

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        var heap = GC.GetGCMemoryInfo().HeapSizeBytes;
        var now = GC.GetTotalMemory(false);
        var value = Math.Max(heap, now);
        long seen;
        while (value > (seen = Interlocked.Read(ref _peakHeap)) && Interlocked.CompareExchange(ref _peakHeap, value, seen) != seen)
        {
        }
    }
}

/// <summary>Peak memory in MiB.</summary>
internal sealed record MemoryResult(double PeakWorkingSetMiB, double PeakGcHeapMiB);
