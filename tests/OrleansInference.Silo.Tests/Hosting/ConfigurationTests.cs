using Microsoft.Extensions.Configuration;
using OrleansInference.Silo.Hosting;

namespace OrleansInference.Silo.Tests.Hosting;

public sealed class ConfigurationTests
{
    [Fact]
    public void Short_switches_and_full_keys_reach_configuration()
    {
        var builder = SiloHost.CreateBuilder(
            ["--model", "/models/llama", "--device", "cuda:1", "--Orleans:SiloPort", "12345", "--Orleans:Membership:NumMissedProbesLimit", "1"]);
        var c = builder.Configuration;
        Assert.Equal("/models/llama", c["Inference:Model"]);
        Assert.Equal("cuda:1", c["Inference:Engine:Device"]);
        var orleans = c.GetSection("Orleans").Get<OrleansHostingOptions>()!;
        Assert.Equal(12345, orleans.SiloPort);
        Assert.Equal(30000, orleans.GatewayPort);
        Assert.Equal(1, orleans.Membership.NumMissedProbesLimit);
        Assert.Null(orleans.Membership.ProbeTimeout);
    }

    [Fact]
    public void Default_url_is_localhost_8000_unless_given()
    {
        Assert.Equal(SiloHost.DefaultUrl, SiloHost.CreateBuilder([]).WebHost.GetSetting("urls"));
        Assert.Equal("http://127.0.0.1:9", SiloHost.CreateBuilder(["--urls", "http://127.0.0.1:9"]).WebHost.GetSetting("urls"));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:05")]
    public void A_Redis_startup_timeout_that_is_not_positive_is_refused(string timeout)
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloHost.CreateBuilder(["--Orleans:Redis", "127.0.0.1:6379", "--Orleans:RedisStartupTimeout", timeout]));
        Assert.StartsWith("Orleans:RedisStartupTimeout must be positive", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda:x")]
    [InlineData("gpu")]
    public void An_unknown_device_is_refused_before_the_silo_starts(string device)
    {
        var e = Assert.Throws<SiloConfigurationException>(() => SiloHost.CreateBuilder(["--device", device]));
        Assert.Equal($"Inference:Engine:Device (--device): Unknown device '{device}': use cpu, cuda, cuda:N or cuda:N,M,...", e.Message);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("CUDA")]
    [InlineData("cuda:3")]
    public void Known_devices_are_accepted_without_a_gpu(string device) =>
        Assert.Equal(device, SiloHost.CreateBuilder(["--device", device]).Configuration["Inference:Engine:Device"]);
}
