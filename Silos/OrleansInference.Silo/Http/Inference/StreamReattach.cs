using OrleansInference.Grains;

namespace OrleansInference.Silo.Http.Inference;

/// <summary>
/// How a response picks up its request grain's stream again after losing it: a new <c>GenerateAsync</c> call with the
/// tokens already sent per sample, up to <see cref="Attempts"/> times.
/// </summary>
/// <param name="Start">Starts the grain stream again from the given per-sample token counts.</param>
/// <param name="Attempts">Re-attachments allowed per response (0: none).</param>
/// <param name="Delay">Pause before the second and later attempts, times the attempt number.</param>
internal sealed record StreamReattach(Func<IReadOnlyList<int>, IAsyncEnumerator<TokenChunk>> Start, int Attempts, TimeSpan Delay);
