using OrleansInference.Native.Models;
using OrleansInference.Native.Tests.Models;
using OrleansInference.Native.Tests.Reference;

namespace OrleansInference.Native.Tests.Cpu;

/// <summary>The models the CPU backend tests run on, with reference logits cached per prompt.</summary>
public sealed class CpuModelFixture : IDisposable
{
    private readonly TestModelDirectory _qwenDir;
    private readonly TestModelDirectory _llamaDir;

    public CpuModelFixture()
    {
        Builtin = BuiltinModel.Create(1234);
        _qwenDir = TestModelDirectory.Create(TestModelDirectory.Qwen2Config());
        Qwen2 = ModelLoader.Load(_qwenDir.Path, "qwen2-test");
        _llamaDir = TestModelDirectory.Create(TestModelDirectory.LlamaBiasConfig(), seed: 8, matrixType: DType.F16);
        LlamaBias = ModelLoader.Load(_llamaDir.Path, "llama-bias-test");
        LlamaBiasPrompt = MakePrompt(LlamaBias.Config.VocabSize, 19, seed: 7);
        LlamaBiasReference = new DenseReferenceModel(LlamaBias.Config, LlamaBias.Tensors).Logits(LlamaBiasPrompt);
        BuiltinPrompt = MakePrompt(Builtin.Config.VocabSize, 23, seed: 5);
        Qwen2Prompt = MakePrompt(Qwen2.Config.VocabSize, 37, seed: 6);
        BuiltinReference = new DenseReferenceModel(Builtin.Config, Builtin.Tensors).Logits(BuiltinPrompt);
        Qwen2Reference = new DenseReferenceModel(Qwen2.Config, Qwen2.Tensors).Logits(Qwen2Prompt);
    }

    public LoadedModel Builtin { get; }

    public LoadedModel Qwen2 { get; }

    public LoadedModel LlamaBias { get; }

    public int[] LlamaBiasPrompt { get; }

    public double[][] LlamaBiasReference { get; }

    public int[] BuiltinPrompt { get; }

    public int[] Qwen2Prompt { get; }

    public double[][] BuiltinReference { get; }

    public double[][] Qwen2Reference { get; }

    public (LoadedModel Model, int[] Prompt, double[][] Reference) Get(string name) => name switch
    {
        "builtin" => (Builtin, BuiltinPrompt, BuiltinReference),
        "qwen2" => (Qwen2, Qwen2Prompt, Qwen2Reference),
        "llama-bias" => (LlamaBias, LlamaBiasPrompt, LlamaBiasReference),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    public static int[] MakePrompt(int vocab, int length, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var tokens = new int[length];
        for (int i = 0; i < length; i++)
        {
            tokens[i] = (int)(rng.Next() % (ulong)vocab);
        }

        return tokens;
    }

    public void Dispose()
    {
        Builtin.Dispose();
        Qwen2.Dispose();
        LlamaBias.Dispose();
        _qwenDir.Dispose();
        _llamaDir.Dispose();
    }
}
