using System.Text;
using OrleansInference.Grains;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>Converts the cluster's per-position logprobs into the two OpenAI layouts.</summary>
internal static class LogprobsMapper
{
    /// <summary>JSON has no -Infinity: impossible tokens get a very small finite value instead (as vLLM does).</summary>
    private const float Floor = -9999f;

    public static CompletionLogprobsDto? ToCompletion(IReadOnlyList<PositionLogprobsDto>? positions, int textOffset)
    {
        if (positions is null || positions.Count == 0)
        {
            return null;
        }
        var tokens = new List<string>(positions.Count);
        var logprobs = new List<float>(positions.Count);
        var top = new List<Dictionary<string, float>>(positions.Count);
        var offsets = new List<int>(positions.Count);
        var offset = textOffset;
        foreach (var p in positions)
        {
            tokens.Add(p.Chosen.Text);
            logprobs.Add(Finite(p.Chosen.Logprob));
            var alternatives = new Dictionary<string, float>(p.Top.Count);
            foreach (var t in p.Top)
            {
                // Two ids can decode to the same text; the likelier one is kept.
                var lp = Finite(t.Logprob);
                if (!alternatives.TryGetValue(t.Text, out var existing) || existing < lp)
                {
                    alternatives[t.Text] = lp;
                }
            }
            top.Add(alternatives);
            offsets.Add(offset);
            offset += p.Chosen.Text.Length;
        }
        return new CompletionLogprobsDto(tokens, logprobs, top, offsets);
    }

    public static ChatLogprobsDto? ToChat(IReadOnlyList<PositionLogprobsDto>? positions)
    {
        if (positions is null || positions.Count == 0)
        {
            return null;
        }
        var content = new List<ChatTokenLogprobDto>(positions.Count);
        foreach (var p in positions)
        {
            var top = p.Top.Select(t => new ChatTopLogprobDto(t.Text, Finite(t.Logprob), Bytes(t.Text))).ToList();
            content.Add(new ChatTokenLogprobDto(p.Chosen.Text, Finite(p.Chosen.Logprob), Bytes(p.Chosen.Text), top));
        }
        return new ChatLogprobsDto(content);
    }

    private static float Finite(float value) => float.IsFinite(value) ? value : Floor;

    private static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
}
