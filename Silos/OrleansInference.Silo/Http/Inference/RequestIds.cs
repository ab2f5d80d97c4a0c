using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// The request id of an API call: the client's <c>X-Request-Id</c> when it sent a usable one (so it can re-attach to
/// the same request grain), otherwise a new one. It is echoed in the response's <c>X-Request-Id</c> header.
/// </summary>
internal static class RequestIds
{
    public const string Header = "X-Request-Id";
    private const int MaxLength = 128;
    private static readonly object ItemKey = new();

    /// <summary>The id for this call (created and stored on first use).</summary>
    public static string Get(HttpContext context)
    {
        if (context.Items.TryGetValue(ItemKey, out var existing) && existing is string s)
        {
            return s;
        }
        var supplied = context.Request.Headers[Header].ToString();
        var valid = supplied.Length is > 0 and <= MaxLength && supplied.All(IsAllowed);
        var id = valid ? supplied : Guid.NewGuid().ToString("N");
        context.Items[ItemKey] = id;
        context.Response.Headers[Header] = id;
        if (!valid && supplied.Length > 0)
        {
            // The id becomes a grain key and appears in logs: keep it to a safe alphabet.
            throw ApiRequestException.BadRequest(
                $"X-Request-Id must be 1 to {MaxLength} characters of letters, digits, '-', '_', '.' or ':'.", Header);
        }
        return id;
    }

    /// <summary>Whether <paramref name="id"/> is a usable request id (as <see cref="Header"/> would accept).</summary>
    public static bool IsValid(string id) => id.Length is > 0 and <= MaxLength && id.All(IsAllowed);

    /// <summary>True when the client named the request itself.</summary>
    public static bool IsClientSupplied(HttpContext context) => !string.IsNullOrEmpty(context.Request.Headers[Header]);

    private static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':';
}
