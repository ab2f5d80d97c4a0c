using OrleansInference.Native.Interop;
using Xunit;

namespace OrleansInference.Native.Tests.Cuda;

/// <summary>
/// Opens GPU 0 once for the CUDA test classes. Without a driver or GPU (e.g. CI), <see cref="WhyNot"/> says why and
/// every test that needs it is reported as skipped with that reason.
/// </summary>
public sealed class CudaTestDevice : IDisposable
{
    public CudaTestDevice()
    {
        try
        {
            Context = CudaContext.Open(0);
        }
        catch (CudaUnavailableException e)
        {
            WhyNot = "no CUDA GPU: " + e.Message;
        }
    }

    internal CudaContext? Context { get; }

    public string? WhyNot { get; }

    /// <summary>A kernel cache folder private to this test run.</summary>
    public string KernelCache { get; } = Path.Combine(Path.GetTempPath(), "orleans-inference-test-kernels-" + Environment.ProcessId);

    /// <summary>Skips the calling test when there is no GPU; returns the context otherwise.</summary>
    internal CudaContext Require()
    {
        Assert.SkipWhen(Context is null, WhyNot ?? "no CUDA GPU");
        return Context!;
    }

    public void Dispose() => Context?.Dispose();
}

[CollectionDefinition(Name)]
public sealed class CudaCollection : ICollectionFixture<CudaTestDevice>
{
    /// <summary>GPU tests run one class at a time: they share one device and its memory.</summary>
    public const string Name = "cuda";
}
