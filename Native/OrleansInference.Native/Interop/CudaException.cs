namespace OrleansInference.Native.Interop;

/// <summary>A CUDA, NVRTC, cuBLASLt or NCCL call failed; the message names the call and the library's error.</summary>
public class CudaException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="call">The native function that failed, e.g. <c>cuMemAlloc_v2</c>.</param>
    /// <param name="code">The status it returned.</param>
    /// <param name="errorName">The library's name for the status, e.g. <c>CUDA_ERROR_OUT_OF_MEMORY</c>.</param>
    /// <param name="description">The library's description of the status, if any.</param>
    public CudaException(string call, int code, string errorName, string? description)
        : base($"{call} failed: {errorName} ({code}){(string.IsNullOrEmpty(description) ? "" : ": " + description)}")
    {
        Call = call;
        Code = code;
        ErrorName = errorName;
    }

    /// <summary>Creates an exception with a message of its own (no single failed status).</summary>
    public CudaException(string message)
        : base(message)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>Creates an exception with a message and an inner exception.</summary>
    public CudaException(string message, Exception inner)
        : base(message, inner)
    {
        Call = "";
        ErrorName = "";
    }

    /// <summary>The native function that failed (empty when not a single call).</summary>
    public string Call { get; }

    /// <summary>The status code returned.</summary>
    public int Code { get; }

    /// <summary>The library's name for the status.</summary>
    public string ErrorName { get; }
}

/// <summary>A native library the GPU path needs (driver, NVRTC, cuBLASLt, NCCL) is not installed or has no usable device.</summary>
public sealed class CudaUnavailableException : CudaException
{
    /// <summary>Creates the exception.</summary>
    public CudaUnavailableException(string message)
        : base(message)
    {
    }
}
