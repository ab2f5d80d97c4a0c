using OrleansInference.Native.Cpu;
using OrleansInference.Native.Engine;
using OrleansInference.Native.Kv.Transport;
using OrleansInference.Native.Models;
using Xunit;

namespace OrleansInference.Native.Tests.Kv.Transport;

/// <summary>The conformance suite on the in-process host-copy link between two CPU engines.</summary>
public sealed class HostKvTransportTests(BuiltinModelFixture fx) : KvTransportConformanceTests, IClassFixture<BuiltinModelFixture>
{
    protected override string? WhyUnavailable => null;

    protected override bool SkipsBlocksThePeerHas => false;

    protected override InferenceEngine NewEngine(int side, Action<EngineOptions>? configure = null)
    {
        var options = new EngineOptions { NumBlocks = 64, BlockSize = 16, CpuThreads = 1, MaxBatchTokens = 256 };
        configure?.Invoke(options);
        return new InferenceEngine(fx.Model, new CpuBackend(fx.Model, options.NumBlocks, options.BlockSize, options.CpuThreads, options.MaxBatchTokens), options);
    }

    protected override Task<(IKvTransport Sender, IKvTransport Receiver)> ConnectAsync(InferenceEngine sender, InferenceEngine receiver, KvTransportOptions options) =>
        Task.FromResult(KvTransports.CreateHostPair(sender, receiver, options));
}

/// <summary>The built-in model, loaded once per test class.</summary>
public sealed class BuiltinModelFixture : IDisposable
{
    public LoadedModel Model { get; } = BuiltinModel.Create(1234);

    public void Dispose() => Model.Dispose();
}
