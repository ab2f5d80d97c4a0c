using System.Numerics;
using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// <c>Y[M, N] (+)= X[M, K] · W[N, K]ᵀ</c> with bf16 operands: cuBLASLt, or for a few rows (decode) our
/// bandwidth-bound <c>gemv_bf16</c> kernel. For power-of-two row counts (the decode graph buckets, common prefill
/// sizes) every candidate — the heuristic's cuBLASLt algorithms and, up to 8 rows, the GEMV kernel — is timed once on
/// the real operands into a scratch output and the fastest kept (the GEMV with 1, 2, 4 or 8 warps per column); other row counts take the heuristic's first choice
/// (or the GEMV decision of the next power of two). Tuning happens outside graph capture (<see cref="Prepare"/>).
/// </summary>
internal sealed class MatMul : IDisposable
{
    /// <summary>Most rows a product may have to run on the GEMV kernel.</summary>
    public const int GemvMaxRows = 8;

    // Choices: ≥ 0 a cuBLASLt candidate; -1, -2, -3, -4 the GEMV kernel with 1, 2, 4, 8 warps per output column.
    private const int LastGemv = -4;
    private readonly CudaContext _context;
    private readonly GemmRunner _lt;
    private readonly CudaFunction _gemv;
    private readonly CudaEvent _start;
    private readonly CudaEvent _end;
    private readonly Dictionary<(long N, long K, long M, GemmOutput Out, bool Acc), int> _choice = [];
    private DeviceBuffer? _scratch;

    public MatMul(CudaContext context, GemmRunner lt, CudaFunction gemv, bool tune)
    {
        _context = context;
        _lt = lt;
        _gemv = gemv;
        Tune = tune;
        _start = context.CreateEvent();
        _end = context.CreateEvent();
    }

    public bool Tune { get; }

    public GemmRunner Lt => _lt;

    /// <summary>Decides (timing candidates when tuning) how a shape runs; call before capturing a graph that runs it.</summary>
    public void Prepare(ulong w, long n, long k, ulong x, long m, GemmOutput output, bool accumulate, CudaStream stream)
    {
        var key = (n, k, m, output, accumulate);
        if (m == 0 || _choice.ContainsKey(key))
        {
            return;
        }

        bool gemvFits = m <= GemvMaxRows && k % 8 == 0;
        int candidates = _lt.Candidates(n, k, m, output, accumulate);
        if (!Tune || !BitOperations.IsPow2(m))
        {
            int choice = 0;
            if (gemvFits && !Tune)
            {
                // Untuned: the GEMV kernel with one warp per output column, a fixed and always valid choice.
                choice = -1;
            }
            else if (gemvFits)
            {
                // Tuned, m not a power of two: follow the decision timed for the next power of two (which is one,
                // so this recursion ends there).
                long bucket = (long)BitOperations.RoundUpToPowerOf2((ulong)m);
                Prepare(w, n, k, x, bucket, output, accumulate, stream);
                int bucketChoice = _choice[(n, k, bucket, output, accumulate)];
                choice = bucketChoice < 0 ? bucketChoice : 0;
            }

            _choice[key] = choice;
            return;
        }

        long outBytes = m * n * (output == GemmOutput.BFloat16 ? 2 : 4);
        if (_scratch is null || _scratch.Bytes < outBytes)
        {
            stream.Synchronize();
            _scratch?.Dispose();
            _scratch = _context.Allocate(Math.Max(outBytes, 1L << 20));
        }

        double best = double.MaxValue;
        int bestChoice = 0;
        for (int c = gemvFits ? LastGemv : 0; c < candidates; c++)
        {
            var times = new double[7];
            for (int r = 0; r < times.Length; r++)
            {
                _start.Record(stream);
                RunWith(c, w, n, k, x, m, _scratch.Pointer, output, accumulate, stream);
                _end.Record(stream);
                _end.Synchronize();
                times[r] = _end.ElapsedSince(_start);
            }

            Array.Sort(times, 2, times.Length - 2);
            double median = times[2 + ((times.Length - 2) / 2)];
            if (median < best)
            {
                best = median;
                bestChoice = c;
            }
        }

        _choice[key] = bestChoice;
        if (bestChoice >= 0)
        {
            _lt.Choose(n, k, m, output, accumulate, bestChoice);
        }
    }

    public void Run(ulong w, long n, long k, ulong x, long m, ulong y, GemmOutput output, bool accumulate, CudaStream stream)
    {
        if (m == 0)
        {
            return;
        }

        if (!_choice.TryGetValue((n, k, m, output, accumulate), out int choice))
        {
            Prepare(w, n, k, x, m, output, accumulate, stream);
            choice = _choice[(n, k, m, output, accumulate)];
        }

        RunWith(choice, w, n, k, x, m, y, output, accumulate, stream);
    }

    /// <summary>Warps per output column when a prepared shape runs on the GEMV kernel; null on cuBLASLt or before it is prepared.</summary>
    public int? GemvSplits(long n, long k, long m, GemmOutput output, bool accumulate) =>
        _choice.TryGetValue((n, k, m, output, accumulate), out int c) && c < 0 ? 1 << (-c - 1) : null;

    /// <summary>How a shape runs: negative for the GEMV kernel (-1 - log2 of its warps per column), else the cuBLASLt candidate's index; null before it is prepared.</summary>
    public int? ChoiceFor(long n, long k, long m, GemmOutput output, bool accumulate) =>
        _choice.TryGetValue((n, k, m, output, accumulate), out int c) ? c : null;

    public void Dispose()
    {
        _scratch?.Dispose();
        _end.Dispose();
        _start.Dispose();
    }

    private void RunWith(int choice, ulong w, long n, long k, ulong x, long m, ulong y, GemmOutput output, bool accumulate, CudaStream stream)
    {
        if (choice >= 0)
        {
            _lt.Run(w, n, k, x, m, y, output, accumulate, stream, choice);
            return;
        }

        int mode = accumulate ? 2 : output == GemmOutput.Float32 ? 1 : 0;
        int splits = 1 << (-choice - 1);
        int columnsPerBlock = 8 / splits;
        var args = new KernelArgs().Ptr(w).Ptr(x).Int((int)m).Int((int)n).Int((int)k).Ptr(y).Int(mode).Int(splits);
        _context.Launch(_gemv, ((uint)((n + columnsPerBlock - 1) / columnsPerBlock), 1, 1), 256, 0, stream, ref args);
    }
}
