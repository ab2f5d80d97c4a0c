using System.Text;

namespace OrleansInference.Native.Tokenization;

/// <summary>
/// The chat layouts of the model families we serve, rendered in C# (no Jinja engine). Each method reproduces the
/// text the family's own <c>chat_template</c> produces for plain system/user/assistant messages (no tools).
/// </summary>
public static class ChatTemplates
{
    /// <summary>ChatML (Qwen2 and the fallback): <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c> per message.</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="addGenerationPrompt">Append <c>&lt;|im_start|&gt;assistant\n</c>.</param>
    /// <param name="defaultSystem">System text inserted when the conversation has no system message (Qwen2 does this).</param>
    public static string RenderChatMl(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt, string? defaultSystem)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var sb = new StringBuilder();
        if (defaultSystem is not null && (messages.Count == 0 || messages[0].Role != "system"))
        {
            sb.Append("<|im_start|>system\n").Append(defaultSystem).Append("<|im_end|>\n");
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
}
