namespace OrleansInference.Grains.Hosting;

/// <summary>A model this silo serves.</summary>
/// <param name="Id">Served model name.</param>
/// <param name="MaxModelLength">Maximum prompt + output tokens.</param>
/// <param name="Device">Backend of its first engine, e.g. <c>cpu</c> or <c>cuda:0</c>.</param>
public sealed record ServedModel(string Id, int MaxModelLength, string Device);

/// <summary>The models served by this silo (empty until its engines have started).</summary>
public interface IModelCatalog
{
    /// <summary>Models served here.</summary>
    IReadOnlyList<ServedModel> Models { get; }
}
