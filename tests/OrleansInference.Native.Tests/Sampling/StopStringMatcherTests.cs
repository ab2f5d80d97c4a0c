using Xunit;
using OrleansInference.Native.Sampling;

namespace OrleansInference.Native.Tests.Sampling;

public sealed class StopStringMatcherTests
{
    [Fact]
    public void Without_stops_everything_passes_through()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal(new StopMatch("hello", null), m.Push("hello"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void Holds_back_a_possible_stop_prefix_and_releases_it_when_it_diverges()
    {
        var m = new StopStringMatcher(["hello"]);
        Assert.Equal(new StopMatch("say ", null), m.Push("say hel"));
        Assert.Equal(new StopMatch("help", null), m.Push("p"));
        Assert.Equal(new StopMatch(" ", null), m.Push(" hell"));
        Assert.Equal("hell", m.Flush());
        Assert.False(m.IsStopped);
    }

    [Fact]
    public void Stop_spanning_several_pushes_truncates_before_it()
    {
        var m = new StopStringMatcher(["###END"]);
        Assert.Equal(new StopMatch("result: 4", null), m.Push("result: 4#"));
        Assert.Equal(new StopMatch("", null), m.Push("##"));
        Assert.Equal(new StopMatch("", null), m.Push("EN"));
        Assert.Equal(new StopMatch("", "###END"), m.Push("D and more"));
        Assert.True(m.IsStopped);
        Assert.Equal("###END", m.Matched);
        Assert.Equal(new StopMatch("", null), m.Push("ignored"));
        Assert.Equal("", m.Flush());
    }

    [Fact]
    public void Text_before_a_match_in_the_same_push_is_emitted()
    {
        var m = new StopStringMatcher(["\n\n", "User:"]);
        Assert.Equal(new StopMatch("Hi there.", "\n\n"), m.Push("Hi there.\n\nUser: more"));
    }

    [Fact]
    public void Overlapping_stops_the_first_completed_wins_and_ties_go_to_the_longer()
    {
        // "bc" completes at index 4, "abcd" at 5: "bc" wins although "abcd" starts earlier.
        Assert.Equal(new StopMatch("xa", "bc"), new StopStringMatcher(["abcd", "bc"]).Push("xabcd"));
        // Both end at the same place: the longer one.
        Assert.Equal(new StopMatch("x", "abc"), new StopStringMatcher(["bc", "abc"]).Push("xabcd"));
        // A stop that is a prefix of another.
        var m = new StopStringMatcher(["ab", "abc"]);
        Assert.Equal(new StopMatch("", null), m.Push("a"));
        Assert.Equal(new StopMatch("", "ab"), m.Push("bc"));
    }

    [Fact]
    public void Result_does_not_depend_on_how_text_is_split()
    {
        var rng = new Random(7);
        var stops = new[] { "abca", "cab", "bb", "ccc" };
        for (var trial = 0; trial < 500; trial++)
        {
            var text = new string(Enumerable.Range(0, 30).Select(_ => "abc"[rng.Next(3)]).ToArray());
            var whole = Run(stops, [text]);
            var pieces = new List<string>();
            for (var at = 0; at < text.Length;)
            {
                var len = Math.Min(text.Length - at, rng.Next(1, 5));
                pieces.Add(text.Substring(at, len));
                at += len;
            }

            Assert.Equal(whole, Run(stops, pieces));

            // The reference: the stop that completes first.
            var (expectedText, expectedStop) = Reference(stops, text);
            Assert.Equal((expectedText, expectedStop), whole);
        }
    }

    private static (string Text, string? Stop) Run(string[] stops, IEnumerable<string> pieces)
    {
        var m = new StopStringMatcher(stops);
        var text = "";
        string? stop = null;
        foreach (var piece in pieces)
        {
            var r = m.Push(piece);
            text += r.Emit;
            stop ??= r.Matched;
        }

        return (text + m.Flush(), stop);
    }

    private static (string, string?) Reference(string[] stops, string text)
    {
        for (var end = 1; end <= text.Length; end++)
        {
            foreach (var s in stops.OrderByDescending(s => s.Length))
            {
                if (end >= s.Length && text.AsSpan(end - s.Length, s.Length).SequenceEqual(s))
                {
                    return (text[..(end - s.Length)], s);
                }
            }
        }

        return (text, null);
    }
}
