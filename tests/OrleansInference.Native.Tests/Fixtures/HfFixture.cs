using System.Text.Json;

namespace OrleansInference.Native.Tests.Fixtures;

/// <summary>One tokenization case recorded from transformers.</summary>
public sealed record HfTokenization(string Text, int[] Ids, int[] IdsNoSpecial, string Decoded, string DecodedWithSpecial);

/// <summary>One prompt with transformers' float32 logits and greedy continuation.</summary>
public sealed record HfPrompt(
    string Text, int[] PromptIds, int[] GreedyIds, double GreedyMinMargin, int[] Argmax, int Positions, int Vocab, float[] Logits)
{
    /// <summary>The logits row of <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> Row(int position) => Logits.AsSpan(position * Vocab, Vocab);
}

/// <summary>A fixture folder under Fixtures/hf (see its README.md) and its expected.json.</summary>
public sealed class HfFixture
{
    private HfFixture(string name, string directory, IReadOnlyList<HfTokenization> tokenization, IReadOnlyList<HfPrompt> prompts)
    {
        Name = name;
        Directory = directory;
        Tokenization = tokenization;
        Prompts = prompts;
    }

    public static IReadOnlyList<string> All { get; } = ["llama3-tiny", "qwen2-tiny", "qwen2-tiny-bf16-sharded", "llama2-spm-tiny"];

    public string Name { get; }

    public string Directory { get; }

    public IReadOnlyList<HfTokenization> Tokenization { get; }

    public IReadOnlyList<HfPrompt> Prompts { get; }

    public static HfFixture Load(string name)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "hf", name);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "expected.json")));
        var root = doc.RootElement;
        var tokenization = new List<HfTokenization>();
        if (root.TryGetProperty("tokenization", out var tok))
        {
            foreach (var t in tok.EnumerateArray())
            {
                tokenization.Add(new HfTokenization(
                    t.GetProperty("text").GetString()!,
                    Ints(t.GetProperty("ids")),
                    Ints(t.GetProperty("ids_no_special")),
                    t.GetProperty("decoded").GetString()!,
                    t.GetProperty("decoded_with_special").GetString()!));
            }
        }

        var prompts = new List<HfPrompt>();
        foreach (var p in root.GetProperty("prompts").EnumerateArray())
        {
            var shape = Ints(p.GetProperty("logits_shape"));
            var logits = new float[shape[0] * shape[1]];
            int i = 0;
            foreach (var v in p.GetProperty("logits").EnumerateArray())
            {
                logits[i++] = v.GetSingle();
            }

            prompts.Add(new HfPrompt(
                p.GetProperty("text").GetString()!,
                Ints(p.GetProperty("prompt_ids")),
                Ints(p.GetProperty("greedy_ids")),
                p.GetProperty("greedy_min_margin").GetDouble(),
                Ints(p.GetProperty("argmax")),
                shape[0],
                shape[1],
                logits));
        }

        return new HfFixture(name, dir, tokenization, prompts);
    }

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
