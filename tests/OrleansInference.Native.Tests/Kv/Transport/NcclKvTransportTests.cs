using OrleansInference.Native.Cuda;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Interop;
using OrleansInference.Native.Kv.Transport;
using OrleansInference.Native.Tests.Cuda;
using Xunit;

namespace OrleansInference.Native.Tests.Kv.Transport;

/// <summary>
/// The conformance suite on the NCCL link between CUDA engines on GPUs 0 and 1 (two ranks in this process). Skipped,
/// with the reason, without a driver, without NCCL, or with fewer than two GPUs (NCCL refuses two ranks on one GPU).
/// </summary>
[Collection(CudaCollection.Name)]
public sealed class NcclKvTransportTests(BuiltinModelFixture fx, CudaTestDevice device) : KvTransportConformanceTests, IClassFixture<BuiltinModelFixture>
{
    private readonly string? _whyNot = Probe(device);

    protected override string? WhyUnavailable => _whyNot;

    protected override bool SkipsBlocksThePeerHas => true;

    protected override InferenceEngine NewEngine(int side, Action<EngineOptions>? configure = null)
    {
        var options = new EngineOptions { NumBlocks = 64, BlockSize = 16, MaxBatchTokens = 256, Device = $"cuda:{side}" };
        configure?.Invoke(options);
        var backend = new CudaBackend(fx.Model, side, options.NumBlocks, options.BlockSize,
            new CudaBackendOptions { KernelCacheDirectory = device.KernelCache, MaxBatchTokens = options.MaxBatchTokens });
        return new InferenceEngine(fx.Model, backend, options);
    }

    protected override async Task<(IKvTransport Sender, IKvTransport Receiver)> ConnectAsync(InferenceEngine sender, InferenceEngine receiver, KvTransportOptions options)
    {
        var id = KvTransports.CreateNcclId();
        var ct = TestContext.Current.CancellationToken;
        var a = KvTransports.ConnectNcclAsync(sender, id, 0, options, ct);
        var b = KvTransports.ConnectNcclAsync(receiver, id, 1, options, ct);
        await Task.WhenAll(a, b);
        return (await a, await b);
    }

    private static string? Probe(CudaTestDevice device)
    {
        if (device.WhyNot is not null)
        {
            return device.WhyNot;
        }

        try
        {
            NcclApi.Load();
            var gpus = CudaDriverApi.Load().DeviceCount();
            return gpus < 2 ? $"the NCCL KV link needs two GPUs; {gpus} present" : null;
        }
        catch (Exception e) when (e is CudaException or DllNotFoundException)
        {
            return "NCCL unavailable: " + e.Message;
        }
    }
}
