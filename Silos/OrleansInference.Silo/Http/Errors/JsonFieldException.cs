using System.Text.Json;

namespace OrleansInference.Silo.Http.Errors;

/// <summary>
/// Raised by our JSON converters for a value of a known field that has the wrong shape; the serializer fills in the
/// path, which becomes the error's <c>param</c>.
/// </summary>
internal sealed class JsonFieldException(string message) : JsonException(message);
