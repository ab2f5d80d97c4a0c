using System.Text;
using System.Text.Json;

namespace OrleansInference.Native.Tokenization;

/// <summary>The chat layouts rendered in C# (no Jinja engine).</summary>
public enum ChatFamily
{
    /// <summary>ChatML (<c>&lt;|im_start|&gt;role\n…&lt;|im_end|&gt;</c>): Qwen2, and the fallback for unknown templates.</summary>
    ChatMl,

    /// <summary>Llama 3 headers (<c>&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\n…&lt;|eot_id|&gt;</c>).</summary>
    Llama3,

    /// <summary>Llama 2 (<c>[INST] &lt;&lt;SYS&gt;&gt;…&lt;&lt;/SYS&gt;&gt; … [/INST]</c>).</summary>
    Llama2,

    /// <summary>Mistral (<c>[INST] … [/INST]</c> without a system block).</summary>
    Mistral,
}

/// <summary>
/// How a model's chat template renders plain system/user/assistant/tool messages, detected from the template's text
/// (<c>chat_template</c> in tokenizer_config.json or chat_template.jinja) and rendered in C#. Each family reproduces
/// the text its reference template produces for messages without tools; anything unrecognised falls back to ChatML
/// without a default system message.
/// </summary>
/// <param name="Family">The layout.</param>
/// <param name="BosToken">BOS text written by templates that start with it (Llama 2/3, Mistral).</param>
/// <param name="EosToken">EOS text closing assistant turns (Llama 2, Mistral).</param>
/// <param name="DefaultSystem">ChatML: system text used when the conversation has none (Qwen2's templates have one).</param>
/// <param name="KnowledgeDatePreamble">Llama 3.1+: the system block always carries "Cutting Knowledge Date" and "Today Date".</param>
/// <param name="DateString">Llama 3.1+: the date written as "Today Date" (the template's default).</param>
/// <param name="SpaceBeforeInstClose">Mistral: <c>' [/INST]'</c> (v0.1/v0.2) rather than <c>'[/INST]'</c> (v0.3).</param>
/// <param name="SystemInLastUser">Mistral: the system text goes before the last user message (v0.3) instead of the first.</param>
public sealed record ChatFormat(
    ChatFamily Family,
    string BosToken = "",
    string EosToken = "",
    string? DefaultSystem = null,
    bool KnowledgeDatePreamble = false,
    string DateString = "26 Jul 2024",
    bool SpaceBeforeInstClose = true,
    bool SystemInLastUser = false)
{
    /// <summary>Plain ChatML, the fallback.</summary>
    public static ChatFormat ChatMl { get; } = new(ChatFamily.ChatMl);

    /// <summary>Chooses the format from a template's source text and the tokenizer's special tokens.</summary>
    /// <param name="template">The Jinja source, or null when the model has none.</param>
    /// <param name="bosToken">The BOS token's text, if any.</param>
    /// <param name="eosToken">The EOS token's text, if any.</param>
    /// <param name="hasToken">Whether the vocabulary has a token with this text (used when there is no template).</param>
    public static ChatFormat Detect(string? template, string? bosToken, string? eosToken, Func<string, bool> hasToken)
    {
        ArgumentNullException.ThrowIfNull(hasToken);
        var bos = bosToken ?? "";
        var eos = eosToken ?? "";
        var t = template ?? "";
        if (t.Contains("<|start_header_id|>", StringComparison.Ordinal) || (template is null && hasToken("<|start_header_id|>")))
        {
            var preamble = t.Contains("Cutting Knowledge Date", StringComparison.Ordinal);
            var date = System.Text.RegularExpressions.Regex.Match(t, "set date_string = \"([^\"]+)\"");
            return new ChatFormat(ChatFamily.Llama3, bos, eos, KnowledgeDatePreamble: preamble,
                DateString: date.Success ? date.Groups[1].Value : "26 Jul 2024");
        }

        if (t.Contains("<<SYS>>", StringComparison.Ordinal))
        {
            return new ChatFormat(ChatFamily.Llama2, bos, eos);
        }

        if (t.Contains("[INST]", StringComparison.Ordinal) || (template is null && hasToken("[INST]")))
        {
            var spaced = template is null || t.Contains(" [/INST]", StringComparison.Ordinal);
            var lastUser = t.Contains("system_message", StringComparison.Ordinal) && t.Contains("loop.last", StringComparison.Ordinal);
            return new ChatFormat(ChatFamily.Mistral, bos, eos, SpaceBeforeInstClose: spaced, SystemInLastUser: lastUser);
        }

        if (t.Contains("<|im_start|>", StringComparison.Ordinal) || hasToken("<|im_start|>"))
        {
            // A literal default system message written between "<|im_start|>system\n" and "<|im_end|>" (Qwen2, Qwen2.5).
            string? defaultSystem = null;
            foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(t, @"<\|im_start\|>system\\n(.+?)<\|im_end\|>"))
            {
                var text = m.Groups[1].Value;
                if (!text.Contains('{', StringComparison.Ordinal) && !text.Contains('\'', StringComparison.Ordinal) && !text.Contains('+', StringComparison.Ordinal))
                {
                    defaultSystem = text.Replace("\\n", "\n", StringComparison.Ordinal);
                    break;
                }
            }

            return new ChatFormat(ChatFamily.ChatMl, bos, eos, DefaultSystem: defaultSystem);
        }

        return ChatMl;
    }

    /// <summary>Renders messages; the result is meant to be encoded without adding special tokens.</summary>
    public string Render(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Family switch
        {
            ChatFamily.Llama3 => RenderLlama3(messages, addGenerationPrompt),
            ChatFamily.Llama2 => RenderLlama2(messages),
            ChatFamily.Mistral => RenderMistral(messages),
            _ => RenderChatMl(messages, addGenerationPrompt),
        };
    }

    private string RenderChatMl(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder();
        if (DefaultSystem is not null && (messages.Count == 0 || messages[0].Role != "system"))
        {
            sb.Append("<|im_start|>system\n").Append(DefaultSystem).Append("<|im_end|>\n");
        }

        foreach (var m in messages)
        {
            sb.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
        }

        if (addGenerationPrompt)
        {
            sb.Append("<|im_start|>assistant\n");
        }

        return sb.ToString();
    }

    private string RenderLlama3(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder(BosToken);
        var start = 0;
        if (KnowledgeDatePreamble)
        {
            var system = "";
            if (messages.Count > 0 && messages[0].Role == "system")
            {
                system = messages[0].Content.Trim();
                start = 1;
            }

            sb.Append("<|start_header_id|>system<|end_header_id|>\n\n")
                .Append("Cutting Knowledge Date: December 2023\n")
                .Append("Today Date: ").Append(DateString).Append("\n\n")
                .Append(system).Append("<|eot_id|>");
        }

        for (var i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            if (KnowledgeDatePreamble && m.Role is "tool" or "ipython")
            {
                // The 3.1 template writes tool results under "ipython", JSON-encoded (a string is "iterable" to Jinja).
                sb.Append("<|start_header_id|>ipython<|end_header_id|>\n\n").Append(JsonSerializer.Serialize(m.Content)).Append("<|eot_id|>");
                continue;
            }

            sb.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
        }

        if (addGenerationPrompt)
        {
            sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }

        return sb.ToString();
    }

    private string RenderLlama2(IReadOnlyList<ChatTurn> messages)
    {
        var sb = new StringBuilder();
        string? system = null;
        var start = 0;
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            system = messages[0].Content;
            start = 1;
        }

        for (var i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            var content = i == start && system is not null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{m.Content}" : m.Content;
            if (m.Role == "assistant")
            {
                sb.Append(' ').Append(content.Trim()).Append(' ').Append(EosToken);
            }
            else
            {
                sb.Append(BosToken).Append("[INST] ").Append(content.Trim()).Append(" [/INST]");
            }
        }

        return sb.ToString();
    }

    private string RenderMistral(IReadOnlyList<ChatTurn> messages)
    {
        var sb = new StringBuilder(BosToken);
        string? system = null;
        var start = 0;
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            system = messages[0].Content;
            start = 1;
        }

        var systemAt = -1;
        if (system is not null)
        {
            for (var i = start; i < messages.Count; i++)
            {
                if (messages[i].Role == "user")
                {
                    systemAt = i;
                    if (!SystemInLastUser)
                    {
                        break;
                    }
                }
            }
        }

        for (var i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role == "assistant")
            {
                sb.Append(SpaceBeforeInstClose ? "" : " ").Append(m.Content).Append(EosToken);
                continue;
            }

            var content = i == systemAt ? $"{system}\n\n{m.Content}" : m.Content;
            sb.Append("[INST] ").Append(content).Append(SpaceBeforeInstClose ? " [/INST]" : "[/INST]");
        }

        return sb.ToString();
    }
}
