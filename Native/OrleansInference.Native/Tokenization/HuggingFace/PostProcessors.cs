namespace OrleansInference.Native.Tokenization.HuggingFace;

/// <summary>A tokenizer.json post-processor, for a single sequence: adds the template's special tokens.</summary>
internal interface IPostProcessor
{
    List<int> Process(List<int> ids);
}

/// <summary>Post-processors that change no ids (ByteLevel only fixes offsets).</summary>
internal sealed class IdentityPostProcessor : IPostProcessor
{
    public List<int> Process(List<int> ids) => ids;
}

/// <summary>Applies post-processors in order.</summary>
internal sealed class SequencePostProcessor(IReadOnlyList<IPostProcessor> steps) : IPostProcessor
{
    public List<int> Process(List<int> ids)
    {
        foreach (var s in steps)
        {
            ids = s.Process(ids);
        }

        return ids;
    }
}

/// <summary>
/// <c>TemplateProcessing</c> (and the fixed Bert/Roberta layouts): the single-sequence template, each item either
/// the sequence or a special token's ids (Llama 3: <c>&lt;|begin_of_text|&gt; $A</c>; Llama 2: <c>&lt;s&gt; $A</c>).
/// </summary>
internal sealed class TemplatePostProcessor(IReadOnlyList<int[]?> items) : IPostProcessor
{
    /// <summary>The items: ids of a special token, or null for the sequence itself.</summary>
    public IReadOnlyList<int[]?> Items { get; } = items;

    public List<int> Process(List<int> ids)
    {
        var output = new List<int>(ids.Count + 4);
        foreach (var item in Items)
        {
            if (item is null)
            {
                output.AddRange(ids);
            }
            else
            {
                output.AddRange(item);
            }
        }

        return output;
    }
}
