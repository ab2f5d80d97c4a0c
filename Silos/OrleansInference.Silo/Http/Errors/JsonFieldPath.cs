namespace OrleansInference.Silo.Http.Errors;

/// <summary>Turns a serializer path such as <c>$.messages[2].content</c> into the field name users wrote.</summary>
internal static class JsonFieldPath
{
    public static string? ToParam(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }
        var p = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        // Bracketed names (['a b']) are rare in our schemas; show them as written.
        return p.Length == 0 ? null : p;
    }
}
