namespace OrleansInference.Native.Interop;

/// <summary>Element type of a product's output.</summary>
internal enum GemmOutput
{
    BFloat16,
    Float32,
}

/// <summary>
/// Row-major <c>Y[M, N] (+)= X[M, K] · W[N, K]ᵀ</c> (Hugging Face weights are <c>[out, in]</c>) through cuBLASLt with
/// bf16 inputs, fp32 compute and a 32 MiB workspace. In column-major terms that is <c>Yᶜ (N×M) = Wᶜᵀ · Xᶜ</c>, with
/// W seen as a K×N column-major matrix. The heuristic's candidates (up to <see cref="MaxCandidates"/>) are kept per
/// shape; the first is used unless <see cref="Choose"/> picks another (the caller may time them), and a graph capture
/// only replays choices made before it.
/// </summary>
internal sealed unsafe class GemmRunner : IDisposable
{
    public const long WorkspaceBytes = 32L << 20;
    public const int MaxCandidates = 32;

    private readonly CudaContext _context;
    private readonly CublasLtHandle _handle;
    private readonly CublasLtDescriptor _desc;
    private readonly CublasLtDescriptor _preference;
    private readonly DeviceBuffer _workspace;
    private readonly Dictionary<(long N, long K, long M, GemmOutput Out, bool Accumulate), Plan> _plans = [];

    public GemmRunner(CudaContext context, CublasLtApi api)
    {
        _context = context;
        _handle = CublasLtHandle.Create(context, api);
        _desc = CublasLtDescriptor.MatmulTN(api);
        _preference = CublasLtDescriptor.Preference(api, WorkspaceBytes);
        _workspace = context.Allocate(WorkspaceBytes);
    }

    private CublasLtApi Api => _handle.Api;

    /// <summary>Queries (and caches) the heuristic's candidate algorithms for a shape; returns how many there are.</summary>
    public int Candidates(long n, long k, long m, GemmOutput output, bool accumulate) => GetPlan(n, k, m, output, accumulate).Algos.Length;

    /// <summary>Makes candidate <paramref name="index"/> the one <see cref="Run"/> uses for this shape.</summary>
    public void Choose(long n, long k, long m, GemmOutput output, bool accumulate, int index)
    {
        var plan = GetPlan(n, k, m, output, accumulate);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)plan.Algos.Length, nameof(index));
        plan.Chosen = index;
    }

    /// <summary>
    /// <paramref name="y"/> = <paramref name="x"/>·<paramref name="w"/>ᵀ, or <paramref name="y"/> += that when
    /// <paramref name="accumulate"/> (fp32 output only: the residual stream).
    /// </summary>
    public void Run(ulong w, long n, long k, ulong x, long m, ulong y, GemmOutput output, bool accumulate, CudaStream stream, int candidate = -1)
    {
        if (m == 0)
        {
            return;
        }

        var plan = GetPlan(n, k, m, output, accumulate);
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        var algo = plan.Algos[candidate < 0 ? plan.Chosen : candidate];
        Api.Check(
            Api.cublasLtMatmul(_handle.Value, _desc.Value, &alpha, w, plan.A.Value, x, plan.B.Value, &beta, y, plan.D.Value, y, plan.D.Value, &algo, _workspace.Pointer, (nuint)WorkspaceBytes, stream.Value),
            $"cublasLtMatmul(N={n}, K={k}, M={m})");
    }

    public void Dispose()
    {
        foreach (var plan in _plans.Values)
        {
            plan.Dispose();
        }

        _plans.Clear();
        _workspace.Dispose();
        _preference.Dispose();
        _desc.Dispose();
        _handle.Dispose();
    }

    private Plan GetPlan(long n, long k, long m, GemmOutput output, bool accumulate)
    {
        if (accumulate && output != GemmOutput.Float32)
        {
            throw new ArgumentException("Accumulating products write float32.", nameof(accumulate));
        }

        var key = (n, k, m, output, accumulate);
        if (_plans.TryGetValue(key, out var plan))
        {
            return plan;
        }

        int outType = output == GemmOutput.Float32 ? CublasLtApi.DataTypeR32F : CublasLtApi.DataTypeR16BF;
        var a = CublasLtDescriptor.Layout(Api, CublasLtApi.DataTypeR16BF, k, n, k);
        var b = CublasLtDescriptor.Layout(Api, CublasLtApi.DataTypeR16BF, k, m, k);
        var d = CublasLtDescriptor.Layout(Api, outType, n, m, n);
        var results = stackalloc CublasLtApi.HeuristicResult[MaxCandidates];
        int returned = 0;
        _context.MakeCurrent();
        Api.Check(
            Api.cublasLtMatmulAlgoGetHeuristic(_handle.Value, _desc.Value, a.Value, b.Value, d.Value, d.Value, _preference.Value, MaxCandidates, results, &returned),
            $"cublasLtMatmulAlgoGetHeuristic(N={n}, K={k}, M={m})");
        var algos = new List<CublasLtApi.MatmulAlgo>();
        for (int i = 0; i < returned; i++)
        {
            if (results[i].State == 0 && (long)results[i].WorkspaceSize <= WorkspaceBytes)
            {
                algos.Add(results[i].Algo);
            }
        }

        if (algos.Count == 0)
        {
            a.Dispose();
            b.Dispose();
            d.Dispose();
            throw new CudaException($"cuBLASLt has no algorithm for bf16 X[{m}, {k}] · W[{n}, {k}]ᵀ → {output}.");
        }

        plan = new Plan(a, b, d, [.. algos]);
        _plans[key] = plan;
        return plan;
    }

    private sealed class Plan(CublasLtDescriptor a, CublasLtDescriptor b, CublasLtDescriptor d, CublasLtApi.MatmulAlgo[] algos) : IDisposable
    {
        public CublasLtDescriptor A { get; } = a;

        public CublasLtDescriptor B { get; } = b;

        public CublasLtDescriptor D { get; } = d;

        public CublasLtApi.MatmulAlgo[] Algos { get; } = algos;

        public int Chosen { get; set; }

        public void Dispose()
        {
            A.Dispose();
            B.Dispose();
            D.Dispose();
        }
    }
}
