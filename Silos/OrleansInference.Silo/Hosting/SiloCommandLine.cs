namespace OrleansInference.Silo.Hosting;

/// <summary>Short command-line switches and the configuration keys they set.</summary>
public static class SiloCommandLine
{
    /// <summary>Configuration key of the model to serve (<c>builtin</c> or a Hugging Face model directory).</summary>
    public const string ModelKey = "Inference:Model";

    /// <summary>Configuration key of the engine's device (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>).</summary>
    public const string DeviceKey = "Inference:Engine:Device";

    /// <summary>
    /// <c>--model</c> and <c>--device</c>; any other key is given in full (<c>--Orleans:SiloPort 11112</c>), and
    /// <c>--urls</c> is ASP.NET Core's own.
    /// </summary>
    public static IDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["--model"] = ModelKey,
        ["-m"] = ModelKey,
        ["--device"] = DeviceKey,
    };
}
