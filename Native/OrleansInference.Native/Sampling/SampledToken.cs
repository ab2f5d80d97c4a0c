namespace OrleansInference.Native.Sampling;

/// <summary>The token chosen at one position, with its logprobs when they were requested.</summary>
/// <param name="TokenId">The chosen token.</param>
/// <param name="Logprobs">Chosen and top-N logprobs of the raw distribution, or null when not requested.</param>
public readonly record struct SampledToken(int TokenId, PositionLogprobs? Logprobs);
