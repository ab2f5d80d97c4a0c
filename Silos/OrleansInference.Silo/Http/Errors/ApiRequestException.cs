namespace OrleansInference.Silo.Http.Errors;

/// <summary>Thrown by request parsing and validation; the endpoint turns it into an error response.</summary>
internal sealed class ApiRequestException(ApiProblem problem) : Exception(problem.Message)
{
    public ApiProblem Problem { get; } = problem;

    public static ApiRequestException BadRequest(string message, string? param = null) => new(ApiProblem.BadRequest(message, param));
}
