using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary><c>GET /v1/models</c> and <c>GET /v1/models/{model}</c>: the models this silo serves.</summary>
internal sealed class ModelsEndpoint(ModelResolver models, TimeProvider time)
{
    private const string Owner = "orleans-inference";
    private readonly long _created = time.GetUtcNow().ToUnixTimeSeconds();

    public IResult List() => Results.Json(
        new ModelListDto("list", models.Models.Select(Card).ToList()), OpenAiJsonContext.Default.ModelListDto);

    public IResult Get(string model) => Results.Json(Card(models.Resolve(model)), OpenAiJsonContext.Default.ModelCardDto);

    private ModelCardDto Card(Grains.Hosting.ServedModel m) => new(m.Id, "model", _created, Owner, m.MaxModelLength, m.Device);
}
