using System.Collections.Concurrent;
using System.Text;

namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>Settings of a Hugging Face <c>"model": {"type": "BPE", ...}</c>.</summary>
internal sealed record BpeSettings
{
    public string? UnkToken { get; init; }
    public bool FuseUnk { get; init; }
    public bool ByteFallback { get; init; }
    public bool IgnoreMerges { get; init; }
    public string? ContinuingSubwordPrefix { get; init; }
    public string? EndOfWordSuffix { get; init; }
}

/// <summary>
/// The BPE model of Hugging Face tokenizers: a word becomes one symbol per character (unknown characters become
/// <c>&lt;0xNN&gt;</c> byte tokens with byte fallback, else the unknown token), then the adjacent pair with the lowest
/// merge rank is merged, leftmost first, until no pair has a merge. With <c>ignore_merges</c> a word that is itself
/// in the vocabulary is one token. Words are cached; the model is immutable otherwise and thread-safe.
/// </summary>
internal sealed class BpeModel
{
    private const int CacheCapacity = 20_000;
    private const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<int, string> _vocabById;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly int _unkId = -1;
    private readonly BpeSettings _settings;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    public BpeModel(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, BpeSettings settings, string file)
    {
        _vocab = vocab;
        _settings = settings;
        _vocabById = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab)
        {
            _vocabById[id] = token;
        }

        var prefixLength = settings.ContinuingSubwordPrefix?.Length ?? 0;
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (var rank = 0; rank < merges.Count; rank++)
        {
            var (a, b) = merges[rank];
            var aId = Lookup(a, rank);
            var bId = Lookup(b, rank);
            var merged = a + b[Math.Min(prefixLength, b.Length)..];
            var newId = Lookup(merged, rank);
            _merges[Key(aId, bId)] = (rank, newId); // a repeated pair keeps its last rank, as Hugging Face's map does
        }

        for (var b = 0; b < 256; b++)
        {
            _byteIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
        }

        if (settings.UnkToken is { } unk)
        {
            _unkId = vocab.TryGetValue(unk, out var id)
                ? id
                : throw new ModelLoadException($"{file}: the unknown token '{unk}' is not in the vocabulary.");
        }

        int Lookup(string token, int rank) => vocab.TryGetValue(token, out var id)
            ? id
            : throw new ModelLoadException($"{file}: merge {rank} ('{merges[rank].Left}' '{merges[rank].Right}') uses '{token}', which is not in the vocabulary.");
    }

    /// <summary>Number of entries in the model's own vocabulary.</summary>
    public int Count => _vocab.Count;

    /// <summary>Largest id in the model's vocabulary.</summary>
    public int MaxId => _vocabById.Count == 0 ? -1 : _vocabById.Keys.Max();

    public bool TryGetId(string token, out int id) => _vocab.TryGetValue(token, out id);

    public string? IdToToken(int id) => _vocabById.GetValueOrDefault(id);

    /// <summary>Appends the ids of one pre-tokenized word.</summary>
    public void Tokenize(string word, List<int> output)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (_settings.IgnoreMerges && _vocab.TryGetValue(word, out var whole))
        {
            output.Add(whole);
            return;
        }

        if (_cache.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }

        var ids = MergeWord(word);
        if (word.Length <= MaxCachedWordLength && _cache.Count < CacheCapacity)
        {
            _cache.TryAdd(word, ids);
        }

        output.AddRange(ids);
    }

    private int[] MergeWord(string word)
    {
        var symbols = InitialSymbols(word);
        if (symbols.Count < 2)
        {
            return [.. symbols];
        }

        return MergeAll(symbols);
    }

    /// <summary>One symbol per character: vocabulary entry, else byte tokens (byte fallback), else the (fused) unknown token.</summary>
    private List<int> InitialSymbols(string word)
    {
        var symbols = new List<int>(word.Length);
        var pendingUnk = false;
        var prefix = _settings.ContinuingSubwordPrefix;
        var suffix = _settings.EndOfWordSuffix;
        Span<byte> utf8 = stackalloc byte[4];
        var index = 0;
        while (index < word.Length)
        {
            var width = char.IsSurrogatePair(word, index) ? 2 : 1;
            var piece = word.Substring(index, width);
            var isFirst = index == 0;
            index += width;
            var isLast = index >= word.Length;
            if (!isFirst && prefix is not null)
            {
                piece = prefix + piece;
            }

            if (isLast && suffix is not null)
            {
                piece += suffix;
            }

            if (_vocab.TryGetValue(piece, out var id))
            {
                if (pendingUnk)
                {
                    symbols.Add(_unkId);
                    pendingUnk = false;
                }

                symbols.Add(id);
                continue;
            }

            if (_settings.ByteFallback && TryAddBytes(piece, symbols))
            {
                continue;
            }

            if (_unkId >= 0)
            {
                if (pendingUnk && !_settings.FuseUnk)
                {
                    symbols.Add(_unkId);
                }

                pendingUnk = true;
            }
        }

        if (pendingUnk)
        {
            symbols.Add(_unkId);
        }

        return symbols;
    }

    private bool TryAddBytes(string piece, List<int> symbols)
    {
        var bytes = Encoding.UTF8.GetBytes(piece);
        foreach (var b in bytes)
        {
            if (_byteIds[b] < 0)
            {
                return false;
            }
        }

        foreach (var b in bytes)
        {
            symbols.Add(_byteIds[b]);
        }

        return true;
    }

    private int[] MergeAll(List<int> initial)
    {
        var n = initial.Count;
        var ids = initial.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var removed = new bool[n];
        for (var i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        // Priority: rank, then position (leftmost first); element: position and the id the merge produces.
        var queue = new PriorityQueue<(int Pos, int NewId), long>(n);
        for (var i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m))
            {
                queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
            }
        }

        while (queue.TryDequeue(out var top, out _))
        {
            var pos = top.Pos;
            if (removed[pos] || next[pos] < 0)
            {
                continue;
            }

            var right = next[pos];
            if (!_merges.TryGetValue(Key(ids[pos], ids[right]), out var current) || current.NewId != top.NewId)
            {
                continue; // stale entry: one side changed since it was queued
            }

            ids[pos] = top.NewId;
            removed[right] = true;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var left))
            {
                queue.Enqueue((prev[pos], left.NewId), Priority(left.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
            }
        }

        var result = new List<int>(n);
        for (var i = 0; i >= 0; i = next[i])
        {
            result.Add(ids[i]);
        }

        return [.. result];
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
}
