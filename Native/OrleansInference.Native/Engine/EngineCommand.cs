namespace OrleansInference.Native.Engine;

/// <summary>Work handed to the engine thread, executed between steps in arrival order.</summary>
internal abstract class EngineCommand
{
    /// <summary>The engine stopped before running it.</summary>
    public abstract void Cancel(Exception reason);
}

internal sealed class SubmitCommand(RequestState request) : EngineCommand
{
    public RequestState Request { get; } = request;

    public override void Cancel(Exception reason) { }
}

/// <summary>Aborts a request; with <paramref name="only"/>, only that instance (a stream abandoned by its consumer).</summary>
internal sealed class AbortCommand(string requestId, RequestState? only = null) : EngineCommand
{
    public string RequestId { get; } = requestId;

    public RequestState? Only { get; } = only;

    public override void Cancel(Exception reason) { }
}

/// <summary>A function run on the engine thread whose result completes a task.</summary>
internal abstract class WorkCommand : EngineCommand
{
    public abstract void Run();
}

internal sealed class WorkCommand<T>(Func<T> work, CancellationToken cancellationToken) : WorkCommand
{
    private readonly TaskCompletionSource<T> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<T> Task => _done.Task;

    public override void Run()
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _done.TrySetCanceled(cancellationToken);
            return;
        }
        try
        {
            _done.TrySetResult(work());
        }
        catch (Exception ex)
        {
            _done.TrySetException(ex);
        }
    }

    public override void Cancel(Exception reason) => _done.TrySetException(reason);
}
