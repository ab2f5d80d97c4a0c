using OrleansInference.Native.Tokenization.HuggingFace;

namespace OrleansInference.Native.Tokenization;

/// <summary>
/// A Hugging Face tokenizer read from a model directory as <c>save_pretrained</c> writes it (tokenizer.json plus the
/// optional tokenizer_config.json, special_tokens_map.json, generation_config.json, config.json and
/// chat_template.jinja), behaving as transformers' fast tokenizer: <c>tokenizer(text)</c> ids and <c>decode</c> text.
/// </summary>
/// <remarks>
/// <para>
/// Supported: the BPE model, byte-level (GPT-2, Llama 3, Qwen2: ByteLevel or Split-regex + ByteLevel
/// pre-tokenizers, ByteLevel decoder) and SentencePiece-style (Llama 2, Mistral: Metaspace pre-tokenizer or
/// Prepend/Replace normalizers, <c>&lt;0xNN&gt;</c> byte fallback, Replace/ByteFallback/Fuse/Strip or Metaspace
/// decoders); <c>ignore_merges</c>; added tokens (special or not, with single_word/lstrip/rstrip/normalized);
/// TemplateProcessing, Roberta/Bert and ByteLevel post-processors. Other model types (WordPiece, Unigram,
/// WordLevel) and unknown components are refused with a <see cref="ModelLoadException"/> naming the file.
/// </para>
/// <para>
/// Differences from transformers, by design: <c>clean_up_tokenization_spaces</c> is not applied on decode (it is not
/// stable under streaming and vLLM does not apply it either); Unicode normalizers (Qwen2's NFC) are no-ops under
/// InvariantGlobalization. For <c>LlamaTokenizer(Fast)</c>/<c>GemmaTokenizer(Fast)</c> the add_bos_token /
/// add_eos_token flags of tokenizer_config.json rebuild the template, as those transformers classes do.
/// </para>
/// <para>Thread-safe: the only mutable state is a concurrent word cache.</para>
/// </remarks>
public sealed class HfTokenizer : ITextTokenizer, IStreamingDecodeInfo
{
    private static readonly HashSet<string> LlamaLikeClasses = new(StringComparer.Ordinal)
    {
        "LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast", "GemmaTokenizer", "GemmaTokenizerFast",
    };

    private readonly BpeModel _model;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly HashSet<string> _specialContents;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly INormalizer? _normalizer;
    private readonly IPreTokenizer? _preTokenizer;
    private readonly IPostProcessor? _postProcessor;
    private readonly ITokenDecoder? _decoder;

    private HfTokenizer(TokenizerDefinition definition, ModelDirectoryConfig config, string? directory)
    {
        Directory = directory;
        _model = definition.Model;
        _normalizer = definition.Normalizer;
        _preTokenizer = definition.PreTokenizer;
        _decoder = definition.Decoder;
        _addedById = new Dictionary<int, AddedToken>();
        _addedByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in definition.AddedTokens)
        {
            _addedById[t.Id] = t;
            _addedByContent.TryAdd(t.Content, t.Id);
        }

        _specialContents = definition.AddedTokens.Where(t => t.Special).Select(t => t.Content).ToHashSet(StringComparer.Ordinal);
        _rawMatcher = new AddedTokenMatcher(definition.AddedTokens.Where(t => !t.Normalized).Select(t => (t.Content, t)));
        _normalizedMatcher = new AddedTokenMatcher(definition.AddedTokens.Where(t => t.Normalized)
            .Select(t => (_normalizer?.Normalize(t.Content) ?? t.Content, t)));

        _postProcessor = definition.PostProcessor;
        if (config.TokenizerClass is { } cls && LlamaLikeClasses.Contains(cls) && (config.AddBosToken is not null || config.AddEosToken is not null))
        {
            var bos = config.AddBosToken ?? true ? IdOf(config.BosToken) : null;
            var eos = config.AddEosToken ?? false ? IdOf(config.EosToken) : null;
            _postProcessor = new TemplatePostProcessor(
                new int[]?[] { bos is { } b ? [b] : [], null, eos is { } e ? [e] : [] });
        }

        var maxAdded = _addedById.Count == 0 ? -1 : _addedById.Keys.Max();
        VocabSize = Math.Max(_model.MaxId, maxAdded) + 1;

        BosTokenId = IdOf(config.BosToken) ?? LeadingTemplateToken();
        var eosIds = new List<int>();
        foreach (var id in config.GenerationEosIds.Concat(config.ConfigEosIds).Concat(IdOf(config.EosToken) is { } eosId ? [eosId] : []))
        {
            if (!eosIds.Contains(id))
            {
                eosIds.Add(id);
            }
        }

        EosTokenIds = eosIds;
        ChatFormat = ChatFormat.Detect(config.ChatTemplate, config.BosToken, config.EosToken, t => IdOf(t) is not null);
    }

    /// <summary>Loads the tokenizer of a model directory; throws <see cref="ModelLoadException"/> naming the file at fault.</summary>
    public static HfTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (!System.IO.Directory.Exists(modelDirectory))
        {
            throw new ModelLoadException($"Model directory {modelDirectory} does not exist.");
        }

        var definition = TokenizerJsonReader.Read(Path.Combine(modelDirectory, "tokenizer.json"));
        var config = ModelDirectoryConfig.Read(modelDirectory);
        return new HfTokenizer(definition, config, modelDirectory);
    }

    /// <summary>The directory it was loaded from.</summary>
    public string? Directory { get; }

    /// <summary>The chat layout detected from the model's template.</summary>
    public ChatFormat ChatFormat { get; }

    /// <inheritdoc />
    public int VocabSize { get; }

    /// <inheritdoc />
    public int? BosTokenId { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The id of a token's text (added tokens first, then the model's vocabulary), or null.</summary>
    public int? IdOf(string? token)
    {
        if (token is null)
        {
            return null;
        }

        if (_addedByContent.TryGetValue(token, out var id) || _model.TryGetId(token, out id))
        {
            return id;
        }

        return null;
    }

    /// <summary>The text of a token id (as stored: byte-level or "▁" form), or null when the id is unknown.</summary>
    public string? TokenOf(int id) => _addedById.TryGetValue(id, out var t) ? t.Content : _model.IdToToken(id);

    /// <inheritdoc />
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        foreach (var segment in SplitOrWhole(_rawMatcher, text))
        {
            if (segment.IsToken)
            {
                ids.Add(segment.TokenId);
                continue;
            }

            var part = text[segment.Start..segment.End];
            var normalized = _normalizer?.Normalize(part) ?? part;
            foreach (var sub in SplitOrWhole(_normalizedMatcher, normalized))
            {
                if (sub.IsToken)
                {
                    ids.Add(sub.TokenId);
                    continue;
                }

                var pieces = new List<Piece> { new(normalized[sub.Start..sub.End], segment.Start == 0 && sub.Start == 0) };
                _preTokenizer?.PreTokenize(pieces);
                foreach (var piece in pieces)
                {
                    _model.Tokenize(piece.Text, ids);
                }
            }
        }

        if (addSpecialTokens && _postProcessor is not null)
        {
            ids = _postProcessor.Process(ids);
        }

        return [.. ids];
    }

    /// <inheritdoc />
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>(ids.Length);
        foreach (var id in ids)
        {
            var token = TokenOf(id);
            if (token is null || (skipSpecialTokens && _specialContents.Contains(token)))
            {
                continue;
            }

            tokens.Add(token);
        }

        if (_decoder is null)
        {
            return string.Join(' ', tokens);
        }

        return tokens.Count == 0 ? "" : string.Concat(_decoder.DecodeChain(tokens));
    }

    /// <inheritdoc />
    public bool IsOpenEnded(int tokenId) =>
        _decoder is not null && _decoder.UsesByteFallback && TokenOf(tokenId) is { } t && ByteFallbackDecoder.TryParseByte(t, out _);

    /// <inheritdoc />
    public bool IsInvisible(int tokenId, bool skipSpecialTokens) =>
        TokenOf(tokenId) is not { } t || (skipSpecialTokens && _specialContents.Contains(t));

    /// <inheritdoc />
    public string ApplyChatTemplate(IReadOnlyList<ChatTurn> messages, bool addGenerationPrompt = true) =>
        ChatFormat.Render(messages, addGenerationPrompt);

    private static List<TextSegment> SplitOrWhole(AddedTokenMatcher matcher, string text)
    {
        if (text.Length == 0)
        {
            return [];
        }

        return matcher.IsEmpty ? [new TextSegment(0, text.Length, -1)] : matcher.Split(text);
    }

    private int? LeadingTemplateToken()
    {
        // A template that writes a special token before the sequence (Llama 3's <|begin_of_text|>, Llama 2's <s>).
        var probe = _postProcessor?.Process([-1]);
        return probe is { Count: > 1 } && probe[0] != -1 ? probe[0] : null;
    }
}
