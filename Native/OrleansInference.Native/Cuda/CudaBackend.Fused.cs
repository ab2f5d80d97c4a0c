using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// Decode-sized steps with the layer's small kernels folded into its GEMVs (Kernels/GemvFused.cu): RoPE and the KV
/// store ride on the QKV product, SwiGLU on the gate/up product, and the RMSNorms are computed by the QKV and gate/up
/// GEMVs from the residual (or, with <see cref="NormInPairs"/> off, by the residual products' last block) — four or
/// five launches per layer instead of nine.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>
    /// Which products of a step fuse their neighbours: pair epilogues need the product on the GEMV kernel with at least
    /// one column pair per block (1, 2 or 4 warps per column); the residual norm also needs the whole residual on this
    /// GPU (no tensor-parallel sum between the product and the norm). Zero splits: not fused.
    /// </summary>
    private readonly record struct FusionPlan(int QkvSplits, int GateUpSplits, int OSplits, int DownSplits, bool NormsInConsumers)
    {
        public bool ResidualNorm => OSplits > 0 && DownSplits > 0;

        /// <summary>
        /// The RMSNorms are computed by the QKV and gate/up GEMVs from the fp32 residual (every block for itself), and
        /// the O and down products only add into the residual; otherwise the residual products' last block writes Xn.
        /// </summary>
        public bool NormInPairs => ResidualNorm && QkvSplits > 0 && GateUpSplits > 0 && NormsInConsumers;
    }

    /// <summary>
    /// Most tokens a fused step takes. Measured on the H100 (1B shapes, ms per decode step, fused vs separate):
    /// 1.290 vs 1.370 at batch 1, 1.372 vs 1.425 at 2, but 1.651 vs 1.595 at 4 and 1.788 vs 1.713 at 8.
    /// </summary>
    private const int FusionMaxTokens = 2;

    private FusionPlan PlanFusion(int tokens)
    {
        if (!_fuseSmallBatches || tokens > Math.Min(FusionMaxTokens, MatMul.GemvMaxRows))
        {
            return default;
        }

        var a = _act;
        var w = _weights.Layers[0];
        int hidden = _config.HiddenSize, inter = _config.IntermediateSize;
        _matmul.Prepare(w.Qkv.Pointer, _qDim + (2 * _kvDim), hidden, a.Xn.Pointer, tokens, GemmOutput.BFloat16, false, _stream);
        _matmul.Prepare(w.GateUp.Pointer, 2 * inter, hidden, a.Xn.Pointer, tokens, GemmOutput.BFloat16, false, _stream);
        _matmul.Prepare(w.O.Pointer, hidden, _qDim, a.Attn.Pointer, tokens, GemmOutput.Float32, AccumulatesResidual, _stream);
        _matmul.Prepare(w.Down.Pointer, hidden, inter, a.Act.Pointer, tokens, GemmOutput.Float32, AccumulatesResidual, _stream);
        int Pairs(int? splits) => splits is >= 1 and <= 4 ? splits.Value : 0;
        int qkv = Pairs(_matmul.GemvSplits(_qDim + (2 * _kvDim), hidden, tokens, GemmOutput.BFloat16, false));
        int gateUp = Pairs(_matmul.GemvSplits(2 * inter, hidden, tokens, GemmOutput.BFloat16, false));
        int o = 0, down = 0;
        if (_tensorParallelComm is null && AccumulatesResidual)
        {
            o = _matmul.GemvSplits(hidden, _qDim, tokens, GemmOutput.Float32, true) ?? 0;
            down = _matmul.GemvSplits(hidden, inter, tokens, GemmOutput.Float32, true) ?? 0;
        }

        return new FusionPlan(qkv, gateUp, o, down, _normInPairs && hidden % 8 == 0);
    }

    /// <summary>
    /// q = RoPE(Xn · Wq), k = RoPE(Xn · Wk) and v = Xn · Wv stored at each token's slot: one launch. With
    /// <paramref name="norm"/> the GEMV computes Xn = RMSNorm(X) · norm itself.
    /// </summary>
    private void EnqueueQkvRope(CudaLayerWeights w, long layerOffset, int tokens, int splits, DeviceBuffer? norm)
    {
        var a = _act;
        var s = _inputs;
        int n = _qDim + (2 * _kvDim);
        var args = new KernelArgs().Ptr(w.Qkv).Ptr(a.Xn).Int(tokens).Int(n).Int(_config.HiddenSize).Int(splits).Int(PairRope).Ptr(a.Q)
            .Ptr(w.QkvBias?.Pointer ?? 0).Ptr(s.D(s.Positions)).Ptr(s.D(s.Slots)).Ptr(_invFreq)
            .Ptr(_pool).Long(_blockElements).Long(layerOffset).Long(_planeElements).Int(_config.NumHeads)
            .Ptr(norm is null ? 0 : a.X.Pointer).Ptr(norm?.Pointer ?? 0).Float((float)_config.RmsNormEps);
        _context.Launch(_kernels.GemvPairs, (PairBlocks(n, splits), 1, 1), GemvThreads, 0, _stream, ref args);
        Mark("gemm_qkv+rope_store_kv");
    }

    /// <summary>act = SwiGLU(Xn · [Wgate; Wup]): one launch. With <paramref name="norm"/> the GEMV computes Xn = RMSNorm(X) · norm itself.</summary>
    private void EnqueueGateUpSwiGlu(CudaLayerWeights w, int tokens, int splits, DeviceBuffer? norm)
    {
        var a = _act;
        int n = 2 * _config.IntermediateSize;
        var args = new KernelArgs().Ptr(w.GateUp).Ptr(a.Xn).Int(tokens).Int(n).Int(_config.HiddenSize).Int(splits).Int(PairSwiGlu).Ptr(a.Act)
            .Ptr(0).Ptr(0).Ptr(0).Ptr(0).Ptr(0).Long(0).Long(0).Long(0).Int(0)
            .Ptr(norm is null ? 0 : a.X.Pointer).Ptr(norm?.Pointer ?? 0).Float((float)_config.RmsNormEps);
        _context.Launch(_kernels.GemvPairs, (PairBlocks(n, splits), 1, 1), GemvThreads, 0, _stream, ref args);
        Mark("gemm_gate_up+swiglu");
    }

    /// <summary>X += input · Wᵀ, then Xn = RMSNorm(X) · <paramref name="norm"/> by the product's last block: one launch.</summary>
    private void EnqueueResidualNorm(DeviceBuffer weight, int k, DeviceBuffer input, DeviceBuffer norm, int tokens, int splits, string stage)
    {
        var a = _act;
        int hidden = _config.HiddenSize;
        var args = new KernelArgs().Ptr(weight).Ptr(input).Int(tokens).Int(hidden).Int(k).Int(splits).Ptr(a.X)
            .Ptr(norm).Float((float)_config.RmsNormEps).Ptr(a.Xn).Ptr(a.NormCounter);
        uint columnsPerBlock = (uint)(GemvWarps / splits);
        _context.Launch(_kernels.GemvResidualNorm, (((uint)hidden + columnsPerBlock - 1) / columnsPerBlock, 1, 1), GemvThreads, 0, _stream, ref args);
        Mark(stage);
    }

    private const int GemvWarps = 8;
    private const uint GemvThreads = 32 * GemvWarps;
    private const int PairSwiGlu = 0;
    private const int PairRope = 1;

    private static uint PairBlocks(int n, int splits)
    {
        int pairsPerBlock = GemvWarps / splits / 2;
        return (uint)(((n / 2) + pairsPerBlock - 1) / pairsPerBlock);
    }
}
