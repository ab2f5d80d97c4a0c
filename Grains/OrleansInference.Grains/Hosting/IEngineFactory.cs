using OrleansInference.Native;

namespace OrleansInference.Grains.Hosting;

/// <summary>
/// Creates a silo's engines at startup. The default loads <see cref="InferenceOptions.Model"/> once and creates
/// <see cref="InferenceOptions.WorkersPerSilo"/> engines over it; replace it to host other engines.
/// </summary>
public interface IEngineFactory
{
    /// <summary>Creates <paramref name="count"/> engines; disposing the returned set releases them and what they share.</summary>
    EngineSet Create(InferenceOptions options, int count);
}

/// <summary>Engines sharing one loaded model; disposing it disposes the engines, then the model.</summary>
public sealed class EngineSet(IReadOnlyList<IInferenceEngine> engines, IDisposable? owner = null) : IAsyncDisposable
{
    /// <summary>The engines.</summary>
    public IReadOnlyList<IInferenceEngine> Engines { get; } = engines;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var e in Engines)
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }
        owner?.Dispose();
    }
}
