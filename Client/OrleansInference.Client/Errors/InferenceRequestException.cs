using OrleansInference.Grains;

namespace OrleansInference.Client;

/// <summary>
/// A request was refused or failed. Subclasses name the common cases; <see cref="Code"/> and <see cref="Param"/> carry
/// the cluster's category and the offending parameter.
/// </summary>
public class InferenceRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InferenceRequestException(InferenceErrorCode code, string message, string? param = null, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
        Param = param;
    }

    /// <summary>Category (maps to HTTP 400/404/413/429/503/500).</summary>
    public InferenceErrorCode Code { get; }

    /// <summary>The parameter to blame, when there is one.</summary>
    public string? Param { get; }
}

/// <summary>The model is not served by the cluster.</summary>
public sealed class ModelNotFoundException(string message, string? param = null, Exception? innerException = null)
    : InferenceRequestException(InferenceErrorCode.ModelNotFound, message, param, innerException);

/// <summary>The prompt (plus max tokens) is longer than the model's context or a configured limit.</summary>
public sealed class PromptTooLargeException(string message, string? param = null, Exception? innerException = null)
    : InferenceRequestException(InferenceErrorCode.TooLarge, message, param, innerException);

/// <summary>The cluster's queues are full; retry later.</summary>
public sealed class OverloadedException(string message, string? param = null, Exception? innerException = null)
    : InferenceRequestException(InferenceErrorCode.Overloaded, message, param, innerException);

/// <summary>No worker can serve the request now.</summary>
public sealed class InferenceUnavailableException(string message, string? param = null, Exception? innerException = null)
    : InferenceRequestException(InferenceErrorCode.Unavailable, message, param, innerException);

/// <summary>The stream made no progress through <see cref="OrleansInferenceClientOptions.MaxReattachAttempts"/> re-attachments.</summary>
public sealed class InferenceTimeoutException(string message, Exception? innerException = null)
    : InferenceRequestException(InferenceErrorCode.Unavailable, message, null, innerException);
