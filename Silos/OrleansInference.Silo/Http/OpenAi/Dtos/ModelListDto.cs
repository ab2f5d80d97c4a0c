namespace OrleansInference.Silo.Http.OpenAi.Dtos;

/// <summary><c>GET /v1/models</c>.</summary>
internal sealed record ModelListDto(string Object, IReadOnlyList<ModelCardDto> Data);

/// <summary>One served model (vLLM adds <c>max_model_len</c>).</summary>
internal sealed record ModelCardDto(string Id, string Object, long Created, string OwnedBy, int MaxModelLen, string Device);
