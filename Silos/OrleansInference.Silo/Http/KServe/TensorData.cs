using System.Text.Json;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.KServe;

/// <summary>Reads the <c>data</c> of a V2 input tensor, flat or nested, checking it against the shape.</summary>
internal static class TensorData
{
    public static List<string> Strings(InferInputDto input)
    {
        var values = new List<string>();
        Flatten(input.Data, input.Name!, e =>
        {
            if (e.ValueKind != JsonValueKind.String)
            {
                throw Bad(input.Name!, "BYTES data must be strings");
            }
            values.Add(e.GetString()!);
        });
        CheckShape(input, values.Count);
        return values;
    }

    public static List<int> Ints(InferInputDto input)
    {
        var values = new List<int>();
        Flatten(input.Data, input.Name!, e =>
        {
            if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var id) || id < 0)
            {
                throw Bad(input.Name!, "token ids must be non-negative 32-bit integers");
            }
            values.Add(id);
        });
        CheckShape(input, values.Count);
        return values;
    }

    private static void Flatten(JsonElement element, string name, Action<JsonElement> add)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw Bad(name, "data must be an array");
        }
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Array)
            {
                Flatten(item, name, add);
            }
            else
            {
                add(item);
            }
        }
    }

    private static void CheckShape(InferInputDto input, int count)
    {
        if (input.Shape is not { Count: > 0 } shape || shape.Any(d => d < 0))
        {
            throw Bad(input.Name!, "shape must be a non-empty list of non-negative sizes");
        }
        long expected = 1;
        foreach (var d in shape)
        {
            expected *= d;
        }
        if (expected != count)
        {
            throw Bad(input.Name!, $"shape [{string.Join(", ", shape)}] holds {expected} elements but data has {count}");
        }
    }

    private static ApiRequestException Bad(string name, string what) =>
        ApiRequestException.BadRequest($"Input '{name}': {what}.", $"inputs.{name}");
}
