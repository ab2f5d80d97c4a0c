using System.Net;
using Orleans.Runtime;
using OrleansInference.Grains.Workers;

namespace OrleansInference.Grains.Tests.Workers;

public sealed class WorkerKeyTests
{
    [Fact]
    public void RoundTripsWithAModelThatContainsTheSeparator()
    {
        var silo = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 123456);
        var key = new WorkerKey(silo, "org/model|v2", 3);
        var parsed = WorkerKey.Parse(key.ToString());
        Assert.Equal(silo, parsed.Silo);
        Assert.Equal("org/model|v2", parsed.Model);
        Assert.Equal(3, parsed.Index);
    }

    [Theory]
    [InlineData("")]
    [InlineData("builtin")]
    [InlineData("not-a-silo|builtin|0")]
    [InlineData("127.0.0.1:11111@1|builtin|x")]
    public void RejectsKeysThatNameNoSilo(string key) => Assert.False(WorkerKey.TryParse(key, out _));
}
