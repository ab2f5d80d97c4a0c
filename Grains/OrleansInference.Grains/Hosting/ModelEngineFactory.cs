using Microsoft.Extensions.Logging;
using OrleansInference.Native;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Models;

namespace OrleansInference.Grains.Hosting;

/// <summary>Loads <see cref="InferenceOptions.Model"/> once and creates the silo's engines over it.</summary>
internal sealed class ModelEngineFactory(ILoggerFactory loggerFactory) : IEngineFactory
{
    public EngineSet Create(InferenceOptions options, int count)
    {
        var model = ModelLoader.Load(options.Model, options.ModelId);
        var engines = new List<IInferenceEngine>(count);
        try
        {
            var engineOptions = options.Engine;
            engineOptions.ModelId ??= options.ModelId ?? model.Id;
            for (var i = 0; i < count; i++)
            {
                engines.Add(InferenceEngine.Create(model, engineOptions, loggerFactory));
            }
            return new EngineSet(engines, model);
        }
        catch
        {
            foreach (var e in engines) e.DisposeAsync().AsTask().GetAwaiter().GetResult();
            model.Dispose();
            throw;
        }
    }
}
