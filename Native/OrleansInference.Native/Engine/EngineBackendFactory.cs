using Microsoft.Extensions.Logging;
using OrleansInference.Native.Backends;
using OrleansInference.Native.Cpu;
using OrleansInference.Native.Cuda;
using OrleansInference.Native.Models;

namespace OrleansInference.Native.Engine;

/// <summary>Picks and builds the compute backend named by <see cref="EngineOptions.Device"/>.</summary>
internal static class EngineBackendFactory
{
    public static IComputeBackend Create(LoadedModel model, EngineOptions options, ILoggerFactory loggerFactory)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.BlockSize);
        var device = EngineDevice.Parse(options.Device);
        if (!device.IsCuda)
        {
            return Cpu(model, options);
        }
        var ordinal = device.Ordinal;
        var logger = loggerFactory.CreateLogger<InferenceEngine>();
        var cuda = TryCuda(model, ordinal, options, out var whyNot);
        if (cuda is not null)
        {
            return cuda;
        }
        EngineLog.CudaFallback(logger, options.Device!, whyNot);
        return Cpu(model, options);
    }

    /// <summary>Blocks that fit <see cref="EngineOptions.KvCacheMemoryMiB"/> for a model and element size.</summary>
    public static int BlocksFor(ModelConfig config, EngineOptions options, int elementSize)
    {
        if (options.NumBlocks > 0)
        {
            return options.NumBlocks;
        }
        var blockBytes = 2L * config.NumLayers * options.BlockSize * config.NumKvHeads * config.HeadDim * elementSize;
        var blocks = (long)options.KvCacheMemoryMiB * (1 << 20) / blockBytes;
        if (blocks < 1)
        {
            throw new ArgumentException($"KvCacheMemoryMiB = {options.KvCacheMemoryMiB} holds no KV block of {blockBytes} bytes.", nameof(options));
        }
        return (int)Math.Min(blocks, int.MaxValue);
    }

    private static CpuBackend Cpu(LoadedModel model, EngineOptions options) =>
        new(model, BlocksFor(model.Config, options, elementSize: 4), options.BlockSize, options.CpuThreads, options.MaxBatchTokens);

    // CudaBackend.TryCreate answers null (with the reason) when no driver or device is usable.
    private static IComputeBackend? TryCuda(LoadedModel model, int ordinal, EngineOptions options, out string whyNot)
    {
        var backend = CudaBackend.TryCreate(model, ordinal, BlocksFor(model.Config, options, elementSize: 2), options.BlockSize, out var reason);
        whyNot = reason ?? "unknown reason";
        return backend;
    }
}
