using System.Collections.Concurrent;
using System.Diagnostics;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>What a chaos run needs: the workload, where to send it, and the faults to inject while it streams.</summary>
public sealed record ChaosRunSetup
{
    /// <summary>Name for the report.</summary>
    public required string Name { get; init; }

    /// <summary>The requests.</summary>
    public required IReadOnlyList<ChaosRequest> Requests { get; init; }

    /// <summary>Requests streaming at once.</summary>
    public int Concurrency { get; init; } = 16;

    /// <summary>HTTP base addresses of the silos (SSE requests start round-robin and fail over in this order).</summary>
    public required IReadOnlyList<Uri> HttpSilos { get; init; }

    /// <summary>SDK client for <see cref="ChaosChannel.Sdk"/> requests (null: none may be in the workload).</summary>
    public SdkCompletionClient? Sdk { get; init; }

    /// <summary>SSE resume behaviour.</summary>
    public SseResumeOptions Sse { get; init; } = new();

    /// <summary>The fault plan, run alongside the requests; it notes what it does on the progress' timeline.</summary>
    public Func<ChaosProgress, CancellationToken, Task>? Faults { get; init; }
}

/// <summary>Runs a chaos workload: bounded concurrency, the fault plan alongside, one ledger per request.</summary>
public static class ChaosDriver
{
    /// <summary>Ledgers (request order) and the fault timeline of one run, and its wall time.</summary>
    public sealed record Result(IReadOnlyList<TokenLedger> Ledgers, IReadOnlyList<FaultEvent> Faults, double WallSeconds);

    /// <summary>Runs every request to its end (or its failure, recorded in its ledger) and waits for the fault plan.</summary>
    public static async Task<Result> RunAsync(ChaosRunSetup setup, ConcurrentDictionary<string, TokenLedger> ledgers, CancellationToken cancellationToken)
    {
        foreach (var r in setup.Requests)
        {
            ledgers[r.Id] = new TokenLedger(r);
        }
        var progress = new ChaosProgress(setup.Requests.Count);
        using var sse = new SseCompletionClient(setup.HttpSilos, setup.Sse);
        using var slots = new SemaphoreSlim(setup.Concurrency);
        var clock = Stopwatch.StartNew();
        var faults = setup.Faults is null ? Task.CompletedTask : Task.Run(() => setup.Faults(progress, cancellationToken), cancellationToken);
        var runs = new List<Task>();
        foreach (var request in setup.Requests)
        {
            await slots.WaitAsync(cancellationToken);
            runs.Add(RunOneAsync(request));
        }
        await Task.WhenAll(runs);
        var wall = clock.Elapsed.TotalSeconds;
        await faults;
        return new Result(setup.Requests.Select(r => ledgers[r.Id]).ToList(), progress.Faults, wall);

        async Task RunOneAsync(ChaosRequest request)
        {
            var ledger = ledgers[request.Id];
            try
            {
                await Task.Yield();
                if (request.Channel == ChaosChannel.Sdk)
                {
                    var sdk = setup.Sdk ?? throw new InvalidOperationException("the workload has SDK requests but the run has no SDK client");
                    await sdk.RunAsync(request, ledger, cancellationToken);
                }
                else
                {
                    await sse.RunAsync(request, ledger, request.Index, cancellationToken);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                ledger.Error = ex.GetType().Name + ": " + ex.Message;
            }
            finally
            {
                progress.RequestEnded();
                slots.Release();
            }
        }
    }
}
