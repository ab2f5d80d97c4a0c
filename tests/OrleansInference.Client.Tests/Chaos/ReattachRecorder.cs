using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace OrleansInference.Client.Tests.Chaos;

/// <summary>
/// A logger provider that turns the SDK's "re-attaching" log events into breaks on the requests' ledgers, so the chaos
/// report can say which SDK requests the SDK had to resume. Other events are ignored.
/// </summary>
public sealed class ReattachRecorder(ConcurrentDictionary<string, TokenLedger> ledgers) : ILoggerProvider, ILogger
{
    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => this;

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Name != "LogReattaching" || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
        {
            return;
        }
        var requestId = fields.FirstOrDefault(f => f.Key == "RequestId").Value as string;
        if (requestId is not null && ledgers.TryGetValue(requestId, out var ledger))
        {
            ledger.Break("SDK: " + formatter(state, exception));
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
