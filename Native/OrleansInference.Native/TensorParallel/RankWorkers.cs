using System.Runtime.ExceptionServices;

namespace OrleansInference.Native.TensorParallel;

/// <summary>
/// One long-lived thread per rank past the first: a step runs rank 0's part on the caller's thread and the others'
/// parts on their threads at the same time (each rank's host work, e.g. launches and waits, must not wait on another's).
/// A rank that fails cancels the step's token, so ranks waiting for it at a host-side rendezvous give up instead of
/// hanging; the first failure is rethrown to the caller once every rank has returned.
/// </summary>
internal sealed class RankWorkers : IDisposable
{
    private readonly Thread[] _threads;
    private readonly SemaphoreSlim[] _start;
    private readonly CountdownEvent _done;
    private readonly Exception?[] _errors;
    private Action<int, CancellationToken>? _body;
    private CancellationTokenSource? _step;
    private volatile bool _stopping;
    private bool _running;

    public RankWorkers(int ranks, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ranks);
        Ranks = ranks;
        _errors = new Exception?[ranks];
        _start = new SemaphoreSlim[ranks];
        _threads = new Thread[ranks];
        _done = new CountdownEvent(1);
        for (int r = 1; r < ranks; r++)
        {
            int rank = r;
            _start[r] = new SemaphoreSlim(0);
            _threads[r] = new Thread(() => Loop(rank)) { IsBackground = true, Name = $"{name} rank {r}" };
            _threads[r].Start();
        }
    }

    public int Ranks { get; }

    /// <summary>
    /// Starts <paramref name="body"/> for ranks 1.. on their threads and returns the step's token; the caller then does
    /// rank 0's part and calls <see cref="Finish"/> (with rank 0's failure, if any).
    /// </summary>
    public CancellationToken Begin(Action<int, CancellationToken> body)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (_running)
        {
            throw new InvalidOperationException("A step is already running on these ranks.");
        }

        _running = true;
        _body = body;
        _step = new CancellationTokenSource();
        Array.Clear(_errors);
        _done.Reset(Ranks - 1);
        for (int r = 1; r < Ranks; r++)
        {
            _start[r].Release();
        }

        return _step.Token;
    }

    /// <summary>Waits for ranks 1..; rethrows the first failure (rank 0's first).</summary>
    public void Finish(Exception? rank0Error)
    {
        if (rank0Error is not null)
        {
            _errors[0] = rank0Error;
            _step!.Cancel();
        }

        if (Ranks > 1)
        {
            _done.Wait();
        }

        _running = false;
        _body = null;
        _step!.Dispose();
        _step = null;
        var first = _errors.FirstOrDefault(e => e is not null and not OperationCanceledException) ?? _errors.FirstOrDefault(e => e is not null);
        if (first is not null)
        {
            ExceptionDispatchInfo.Capture(first).Throw();
        }
    }

    /// <summary>Runs <paramref name="body"/> on every rank (rank 0 on the caller) and waits for all.</summary>
    public void Run(Action<int, CancellationToken> body)
    {
        var token = Begin(body);
        Exception? error = null;
        try
        {
            body(0, token);
        }
        catch (Exception e)
        {
            error = e;
        }

        Finish(error);
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        for (int r = 1; r < Ranks; r++)
        {
            _start[r].Release();
        }

        for (int r = 1; r < Ranks; r++)
        {
            _threads[r].Join();
            _start[r].Dispose();
        }

        _done.Dispose();
    }

    private void Loop(int rank)
    {
        while (true)
        {
            _start[rank].Wait();
            if (_stopping)
            {
                return;
            }

            try
            {
                _body!(rank, _step!.Token);
            }
            catch (Exception e)
            {
                _errors[rank] = e;
                try
                {
                    _step!.Cancel();
                }
                catch (AggregateException)
                {
                    // A callback registered on the token threw; the rank's own failure is the one reported.
                }
            }
            finally
            {
                _done.Signal();
            }
        }
    }
}
