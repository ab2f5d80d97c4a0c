namespace OrleansInference.Native.Tokenization;

/// <summary>One chat message for a chat template.</summary>
/// <param name="Role">system, user, assistant or tool.</param>
/// <param name="Content">The text.</param>
public sealed record ChatTurn(string Role, string Content);

/// <summary>A model's tokenizer, behaving as transformers' <c>tokenizer(text)</c> / <c>decode</c>.</summary>
public interface ITextTokenizer
{
    /// <summary>Vocabulary size including added tokens.</summary>
    int VocabSize { get; }

    /// <summary>BOS id, if the model has one.</summary>
    int? BosTokenId { get; }

    /// <summary>Ids that end generation (from generation_config.json, config.json and the tokenizer).</summary>
    IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Encodes text; with <paramref name="addSpecialTokens"/> the post-processor's template (e.g. BOS) applies.</summary>
    int[] Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids to text.</summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true);

    /// <summary>Renders messages with the model family's chat template, ready to be encoded without special tokens.</summary>
    string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true);
}
