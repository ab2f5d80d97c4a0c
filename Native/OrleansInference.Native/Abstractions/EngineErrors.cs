namespace OrleansInference.Native;

/// <summary>What was wrong with a request, so hosts can map it to a status code.</summary>
public enum EngineErrorKind
{
    /// <summary>A parameter is out of range or inconsistent (HTTP 400).</summary>
    InvalidRequest,

    /// <summary>The prompt (plus max tokens) exceeds the context length or a configured limit (HTTP 413/400).</summary>
    PromptTooLong,

    /// <summary>The queue is full (HTTP 429).</summary>
    Overloaded,

    /// <summary>A request with this id is already running.</summary>
    DuplicateRequest,

    /// <summary>The engine is stopping or stopped (HTTP 503).</summary>
    Unavailable,
}

/// <summary>A request was refused by the engine; nothing was allocated for it.</summary>
public sealed class EngineRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public EngineRequestException(EngineErrorKind kind, string message, string? parameter = null) : base(message)
    {
        Kind = kind;
        Parameter = parameter;
    }

    /// <summary>Category, for mapping to status codes.</summary>
    public EngineErrorKind Kind { get; }

    /// <summary>The offending parameter, when one is to blame (OpenAI's <c>param</c>).</summary>
    public string? Parameter { get; }
}

/// <summary>A model directory or file could not be used; the message names the file and tensor.</summary>
public sealed class ModelLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException(string message, Exception? inner = null) : base(message, inner) { }
}
