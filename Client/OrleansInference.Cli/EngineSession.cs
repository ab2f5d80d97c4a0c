using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Cli;

/// <summary>A loaded model and an engine sized for one request.</summary>
internal sealed class EngineSession : IAsyncDisposable
{
    private EngineSession(LoadedModel model, InferenceEngine engine)
    {
        Model = model;
        Engine = engine;
    }

    public LoadedModel Model { get; }

    public InferenceEngine Engine { get; }

    public bool IsBuiltin => Model.Directory is null;

    /// <summary>Loads <paramref name="modelPath"/> and starts an engine with room for the tokens the request needs.</summary>
    public static EngineSession Open(string modelPath, string device, Func<LoadedModel, int> tokensNeeded)
    {
        if (!string.Equals(modelPath, "builtin", StringComparison.OrdinalIgnoreCase)
            && !modelPath.StartsWith("builtin:", StringComparison.OrdinalIgnoreCase)
            && !Directory.Exists(modelPath) && !File.Exists(modelPath))
        {
            throw new CliUsageException($"Model '{modelPath}' not found: give a model directory or 'builtin'.");
        }
        var model = ModelLoader.Load(modelPath);
        try
        {
            // Longer requests are refused by the engine itself, with its own message.
            var tokens = Math.Min(tokensNeeded(model), model.Config.MaxPositionEmbeddings);
            var options = new EngineOptions
            {
                Device = device,
                // One request: a pool that just holds it keeps start-up memory small.
                NumBlocks = (tokens + 15) / 16 + 1,
                BlockSize = 16,
            };
            var engine = InferenceEngine.Create(model, options);
            if (device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) && engine.Info.Device == "cpu")
            {
                Console.Error.WriteLine("warning: CUDA is not available here; running on the CPU.");
            }
            return new EngineSession(model, engine);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        Model.Dispose();
    }
}
