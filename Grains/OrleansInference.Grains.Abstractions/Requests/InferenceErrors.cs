namespace OrleansInference.Grains;

/// <summary>Category of a refused request, mapped to HTTP statuses by the silo and to typed exceptions by the SDK.</summary>
[GenerateSerializer]
public enum InferenceErrorCode
{
    /// <summary>Bad parameter (400).</summary>
    InvalidRequest,
    /// <summary>Unknown model (404).</summary>
    ModelNotFound,
    /// <summary>Prompt or request over the limits (413).</summary>
    TooLarge,
    /// <summary>Queue full (429).</summary>
    Overloaded,
    /// <summary>No live worker (503).</summary>
    Unavailable,
    /// <summary>Failed while running (500).</summary>
    Internal,
}

/// <summary>A request was refused or failed; crosses grain boundaries intact.</summary>
[GenerateSerializer]
public sealed class InferenceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InferenceException(InferenceErrorCode code, string message, string? param = null) : base(message)
    {
        Code = code;
        Param = param;
    }

    /// <summary>Category.</summary>
    [Id(0)] public InferenceErrorCode Code { get; }

    /// <summary>Offending parameter, if any.</summary>
    [Id(1)] public string? Param { get; }
}
