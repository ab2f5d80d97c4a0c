using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace OrleansInference.Cli;

/// <summary>Options shared by the commands.</summary>
internal static class CliOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Model directory (Hugging Face layout: config.json, *.safetensors, tokenizer.json) or 'builtin'.",
        Required = true,
    };

    public static Option<string> Device()
    {
        var option = new Option<string>("--device")
        {
            Description = "cpu, cuda or cuda:N (CUDA falls back to the CPU when unavailable).",
            DefaultValueFactory = _ => "cpu",
        };
        option.Validators.Add(r =>
        {
            var d = r.GetValueOrDefault<string>()?.Trim().ToLowerInvariant();
            var ok = d is "cpu" or "cuda"
                || (d is not null && d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out _));
            if (!ok)
            {
                r.AddError($"Unknown device '{d}': use cpu, cuda or cuda:N.");
            }
        });
        return option;
    }

    /// <summary>A comma-separated list of token ids, e.g. <c>1,2,3</c>.</summary>
    public static Option<int[]> TokenIds(string name, string description) => new(name)
    {
        Description = description,
        CustomParser = ParseIds,
        HelpName = "1,2,3",
    };

    private static int[] ParseIds(ArgumentResult result)
    {
        var text = string.Join(",", result.Tokens.Select(t => t.Value));
        var parts = text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                result.AddError($"'{parts[i]}' is not a token id (expected non-negative integers separated by commas).");
                return [];
            }
        }
        if (ids.Length == 0)
        {
            result.AddError("The token id list is empty.");
        }
        return ids;
    }
}
