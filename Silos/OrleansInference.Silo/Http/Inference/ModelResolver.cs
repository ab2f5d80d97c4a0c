using OrleansInference.Grains.Hosting;
using OrleansInference.Silo.Http.Errors;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>Resolves the <c>model</c> of a request against the models this silo serves.</summary>
internal sealed class ModelResolver(IModelCatalog catalog)
{
    public IReadOnlyList<ServedModel> Models => catalog.Models;

    /// <summary>The served model named <paramref name="requested"/>; the only (first) model when none is named.</summary>
    public ServedModel Resolve(string? requested)
    {
        var models = catalog.Models;
        if (string.IsNullOrEmpty(requested))
        {
            return models.Count > 0
                ? models[0]
                : throw new ApiRequestException(new ApiProblem(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "unavailable",
                    "No model is loaded on this server yet."));
        }
        foreach (var model in models)
        {
            if (string.Equals(model.Id, requested, StringComparison.Ordinal))
            {
                return model;
            }
        }
        throw new ApiRequestException(ApiProblem.ModelNotFound(requested));
    }

    /// <summary>Like <see cref="Resolve"/> but null when the model is unknown.</summary>
    public ServedModel? Find(string name) => catalog.Models.FirstOrDefault(m => string.Equals(m.Id, name, StringComparison.Ordinal));
}
