using OrleansInference.Silo.Http.Errors;
using OrleansInference.Silo.Http.Inference;

namespace OrleansInference.Silo.Tests.Http;

public sealed class ResumePositionTests
{
    [Fact]
    public void Counts_round_trip_through_the_event_id()
    {
        var p = new ResumePosition();
        Assert.Equal("0", p.Format());
        p.Advance(0, 4);
        p.Advance(2, 1);
        p.Advance(0, 3); // never goes back
        Assert.Equal("4,0,1", p.Format());
        Assert.Equal([4, 0, 1], ResumePosition.Parse(p.Format(), maxSamples: 16).Counts);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1,-2")]
    [InlineData("1,,2")]
    [InlineData("1,2,3")]
    public void Malformed_ids_are_refused(string value)
    {
        var e = Assert.Throws<ApiRequestException>(() => ResumePosition.Parse(value, maxSamples: 2));
        Assert.Equal("Last-Event-ID", e.Problem.Param);
    }
}
