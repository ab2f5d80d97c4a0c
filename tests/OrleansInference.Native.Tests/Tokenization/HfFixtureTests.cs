using System.Text.Json;
using OrleansInference.Native.Tokenization;
using Xunit;

namespace OrleansInference.Native.Tests.Tokenization;

/// <summary>
/// Real tokenizers saved by transformers, with ids transformers produced, under
/// <c>tests/OrleansInference.Native.Tests/Fixtures/hf/&lt;name&gt;/</c>: the files <c>save_pretrained</c> writes plus
/// <c>cases.json</c>:
/// <code>
/// { "cases": [ { "text": "...", "add_special_tokens": true, "ids": [..], "decoded": "..." } ],
///   "eos_token_ids": [..], "bos_token_id": 1,
///   "chat": [ { "messages": [ { "role": "user", "content": "..." } ], "add_generation_prompt": true, "text": "..." } ] }
/// </code>
/// <c>decoded</c> is <c>tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)</c>;
/// every key but <c>cases[].text</c> and <c>cases[].ids</c> is optional.
/// </summary>
public sealed class HfFixtureTests
{
    public static TheoryData<string> Fixtures()
    {
        var data = new TheoryData<string>();
        if (FixtureRoot() is { } root)
        {
            foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
            {
                if (File.Exists(Path.Combine(dir, "tokenizer.json")) && File.Exists(Path.Combine(dir, "cases.json")))
                {
                    data.Add(Path.GetFileName(dir));
                }
            }
        }

        if (data.Count == 0)
        {
            data.Add(""); // reported as skipped below
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Matches_transformers(string fixture)
    {
        if (fixture.Length == 0)
        {
            Assert.Skip("No fixtures under tests/OrleansInference.Native.Tests/Fixtures/hf yet.");
        }

        var dir = Path.Combine(FixtureRoot()!, fixture);
        var tok = HfTokenizer.Load(dir);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "cases.json")));
        var root = doc.RootElement;
        foreach (var c in root.GetProperty("cases").EnumerateArray())
        {
            var text = c.GetProperty("text").GetString()!;
            var addSpecial = !c.TryGetProperty("add_special_tokens", out var a) || a.GetBoolean();
            var ids = c.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            Assert.True(ids.SequenceEqual(tok.Encode(text, addSpecial)),
                $"{fixture}: ids of {JsonSerializer.Serialize(text)} (add_special_tokens={addSpecial}): expected [{string.Join(", ", ids)}], got [{string.Join(", ", tok.Encode(text, addSpecial))}]");
            if (c.TryGetProperty("decoded", out var decoded))
            {
                Assert.Equal(decoded.GetString(), tok.Decode(ids));
            }
        }

        if (root.TryGetProperty("eos_token_ids", out var eos))
        {
            Assert.Equal(eos.EnumerateArray().Select(x => x.GetInt32()).Order(), tok.EosTokenIds.Order());
        }

        if (root.TryGetProperty("bos_token_id", out var bos))
        {
            Assert.Equal(bos.ValueKind == JsonValueKind.Null ? null : bos.GetInt32(), tok.BosTokenId);
        }

        if (root.TryGetProperty("chat", out var chats))
        {
            foreach (var chat in chats.EnumerateArray())
            {
                var messages = chat.GetProperty("messages").EnumerateArray()
                    .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToArray();
                var addPrompt = !chat.TryGetProperty("add_generation_prompt", out var g) || g.GetBoolean();
                Assert.Equal(chat.GetProperty("text").GetString(), tok.ApplyChatTemplate(messages, addPrompt));
            }
        }
    }

    private static string? FixtureRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "OrleansInference.Native.Tests", "Fixtures", "hf");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }

            var local = Path.Combine(dir.FullName, "Fixtures", "hf");
            if (Directory.Exists(local))
            {
                return local;
            }
        }

        return null;
    }
}
