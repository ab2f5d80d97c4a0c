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
        if (options.TensorParallel < 1)
        {
            throw new ArgumentException($"TensorParallel must be at least 1, not {options.TensorParallel}.", nameof(options));
        }
        var parsed = EngineDevice.Parse(options.Device);
        var device = (options.Device ?? "cpu").Trim().ToLowerInvariant();
        if (!parsed.IsCuda)
        {
            return options.TensorParallel == 1 ? Cpu(model, options) : CpuTensorParallel(model, options);
        }
        var ordinals = CudaOrdinals(device, options);
        if (ordinals.Count > 1)
        {
            // Asked for several GPUs: serving on one device instead would not be what was configured.
            return new CudaTensorParallelBackend(model, ordinals, BlocksFor(model.Config, options, elementSize: 2), options.BlockSize);
        }
        var ordinal = ordinals[0];
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

    /// <summary>
    /// The GPUs a <c>cuda</c> device names: <c>cuda</c> → 0..TensorParallel-1, <c>cuda:N</c> → N (TensorParallel 1),
    /// <c>cuda:N,M,...</c> → that list (TensorParallel 1 or its length).
    /// </summary>
    public static IReadOnlyList<int> CudaOrdinals(string device, EngineOptions options)
    {
        int tp = options.TensorParallel;
        if (device == "cuda")
        {
            return Enumerable.Range(0, tp).ToArray();
        }
        // Callers have EngineDevice.Parse'd the name, so it is a well-formed list here.
        var list = EngineDevice.CudaList(device)
            ?? throw new ArgumentException($"Unknown device '{options.Device}': use cpu, cuda, cuda:N or cuda:N,M,...", nameof(options));
        if (list.Distinct().Count() != list.Length)
        {
            throw new ArgumentException($"CUDA device '{options.Device}' names a GPU twice.", nameof(options));
        }
        if (tp != 1 && tp != list.Length)
        {
            throw new ArgumentException(
                $"Device '{options.Device}' names {list.Length} GPU(s) but TensorParallel is {tp}: list one GPU per rank (e.g. cuda:{string.Join(",", Enumerable.Range(0, tp))}) or use 'cuda'.",
                nameof(options));
        }
        return list;
    }

    private static CpuTensorParallelBackend CpuTensorParallel(LoadedModel model, EngineOptions options)
    {
        int threads = options.CpuThreads == 0 ? Environment.ProcessorCount : options.CpuThreads;
        return new CpuTensorParallelBackend(model, options.TensorParallel, BlocksFor(model.Config, options, elementSize: 4), options.BlockSize,
            Math.Max(1, threads / options.TensorParallel), options.MaxBatchTokens);
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
