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

    /// <summary>A model no silo of the cluster has served (HTTP 404).</summary>
    public static InferenceException ModelNotServed(string model) =>
        new(InferenceErrorCode.ModelNotFound, $"The model '{model}' is not served by any silo of this cluster.", "model");

    /// <summary>A model the cluster serves whose workers are all gone for now (HTTP 503).</summary>
    public static InferenceException NoLiveWorker(string model) =>
        new(InferenceErrorCode.Unavailable, $"The model '{model}' is served by this cluster, but none of its workers is live right now; retry later.", "model");
}
