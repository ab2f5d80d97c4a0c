using OrleansInference.Silo.Http.Inference;
using OrleansInference.Silo.Http.OpenAi.Dtos;

namespace OrleansInference.Silo.Http.OpenAi;

/// <summary>
/// <c>GET /v1/models</c> and <c>GET /v1/models/{model}</c>: the models this silo serves, then those with live workers
/// on other silos of the cluster (any of them can be asked for here).
/// </summary>
internal sealed class ModelsEndpoint(ModelResolver models, TimeProvider time)
{
    private const string Owner = "orleans-inference";
    private readonly long _created = time.GetUtcNow().ToUnixTimeSeconds();

    public async Task<IResult> ListAsync(CancellationToken ct) => Results.Json(
        new ModelListDto("list", (await models.ListAsync(ct)).Select(Card).ToList()), OpenAiJsonContext.Default.ModelListDto);

    public async Task<IResult> GetAsync(string model, CancellationToken ct) =>
        Results.Json(Card(await models.ResolveAsync(model, ct)), OpenAiJsonContext.Default.ModelCardDto);

    private ModelCardDto Card(Grains.Hosting.ServedModel m) => new(m.Id, "model", _created, Owner, m.MaxModelLength, m.Device);
}
