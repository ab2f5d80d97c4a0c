using OrleansInference.Native.Interop;

namespace OrleansInference.Native.Cuda;

/// <summary>
/// Batch-1 decode steps with every layer in one cooperative launch (Kernels/PersistentDecode.cu): the grid stays
/// resident and meets at grid barriers where the fused step had its five kernel boundaries per layer.
/// </summary>
public sealed partial class CudaBackend
{
    /// <summary>Pointers the persistent kernel reads per layer, in <c>PdLayer</c>'s order, then its barrier counter.</summary>
    private const int PersistentLayerPointers = 7;

    private readonly DeviceBuffer _persistentTable;
    private readonly int[] _persistentGrids = [-1, -1];
    private bool _persistentDecode;
    private bool _persistentWide = true;

    /// <summary>Runs the layers of batch-1 decode steps as one persistent launch (captured graphs are dropped on change).</summary>
    internal bool PersistentDecode
    {
        get => _persistentDecode;
        set
        {
            _persistentDecode = value;
            DropGraphs();
        }
    }

    /// <summary>
    /// One block of 16 warps per multiprocessor instead of two of 8 (the default; 1.153 vs 1.174 ms per step on the H100:
    /// half the blocks normalizing for themselves and meeting at each barrier). Captured graphs are dropped on change.
    /// </summary>
    internal bool PersistentWide
    {
        get => _persistentWide;
        set
        {
            _persistentWide = value;
            DropGraphs();
        }
    }

    private CudaFunction PersistentKernel => _persistentWide ? _kernels.PersistentDecodeWide : _kernels.PersistentDecode;

    private uint PersistentThreads => _persistentWide ? 512u : 256u;

    private int PersistentSharedBytes => Math.Max(Math.Max(_config.HiddenSize, _qDim), _config.IntermediateSize) * 2;

    /// <summary>Blocks of the persistent grid, all co-resident: two (wide: one) per multiprocessor where they fit (0: the kernel cannot run here).</summary>
    private int PersistentGrid
    {
        get
        {
            int i = _persistentWide ? 1 : 0;
            if (_persistentGrids[i] < 0)
            {
                _persistentGrids[i] = 0;
                int shared = PersistentSharedBytes;
                if (_context.ComputeMajor >= 9 && _context.SupportsLaunchAttributes && shared <= _context.MaxSharedMemoryPerBlockOptin - (24 * 1024))
                {
                    if (shared > 48 * 1024)
                    {
                        _context.SetMaxDynamicSharedMemory(PersistentKernel, shared);
                    }

                    int perSm = _context.MaxActiveBlocksPerMultiprocessor(PersistentKernel, (int)PersistentThreads, shared);
                    _persistentGrids[i] = Math.Min(perSm, _persistentWide ? 1 : 2) * _context.MultiprocessorCount;
                }
            }

            return _persistentGrids[i];
        }
    }

    /// <summary>Registers and local (spilled) bytes per thread of the persistent kernel in use, as the loaded module records them.</summary>
    internal (int Registers, int LocalBytes) PersistentResources =>
        (_context.FunctionAttribute(PersistentKernel, CudaDriverApi.FuncAttributeNumRegs), _context.FunctionAttribute(PersistentKernel, CudaDriverApi.FuncAttributeLocalSizeBytes));

    /// <summary>
    /// Whether this step's layers run as the persistent launch: one decode token on one GPU (the residual products
    /// accumulate here), widths the kernel's 16-byte loads divide, and a grid that fits. Independent of which kernel
    /// the product tuner picked for the five-launch layer.
    /// </summary>
    private bool UsesPersistentDecode(StepShape shape) =>
        _persistentDecode && _fuseSmallBatches && shape.Tokens == 1 && shape.Decodes == 1 && shape.Tiles == 0
        && _tensorParallelComm is null && AccumulatesResidual && DecodeAttentionVersion == 2
        && _config.HiddenSize % 8 == 0 && _config.IntermediateSize % 8 == 0 && PersistentGrid >= _config.NumKvHeads;

    /// <summary>Every decoder layer of the one-token step: the residual in X in, the residual after the last layer out.</summary>
    private void EnqueuePersistentLayers()
    {
        var a = _act;
        var s = _inputs;
        var table = _persistentTable;
        ulong barrier = table.Pointer + (ulong)(_config.NumLayers * PersistentLayerPointers * 8);
        int grid = PersistentGrid;
        int splits = Math.Max(1, Math.Min(_maxDecodeSplits, grid / _config.NumKvHeads));
        _context.Memset32(barrier, 0, 1, _stream);
        var args = new KernelArgs().Ptr(table).Int(_config.NumLayers).Ptr(a.X).Ptr(a.Q).Ptr(a.Attn).Ptr(a.Act)
            .Int(_config.IntermediateSize).Float((float)_config.RmsNormEps)
            .Ptr(s.D(s.Positions)).Ptr(s.D(s.Slots)).Ptr(_invFreq)
            .Ptr(_pool).Long(_blockElements).Long(_layerElements).Long(_planeElements).Int(_config.NumHeads)
            .Ptr(s.D(s.DecodeRows)).Ptr(s.D(s.DecodeContext)).Ptr(s.D(s.Tables)).Float(_scaleLog2)
            .Ptr(a.PartialO).Ptr(a.PartialMl).Ptr(a.DecodeCounters).Int(splits).Ptr(barrier).Int((int)_omittedStages);
        _context.LaunchCooperative(PersistentKernel, (uint)grid, PersistentThreads, (uint)PersistentSharedBytes, _stream, ref args);
        Mark("persistent_decode_layers");
    }

    /// <summary>The per-layer pointer table (the weights never move) followed by the barrier counter; made with the backend, outside any capture.</summary>
    private DeviceBuffer NewPersistentTable()
    {
        var pointers = new ulong[(_config.NumLayers * PersistentLayerPointers) + 2];
        for (int l = 0; l < _config.NumLayers; l++)
        {
            var w = _weights.Layers[l];
            ulong[] row = [w.Qkv.Pointer, w.QkvBias?.Pointer ?? 0, w.O.Pointer, w.GateUp.Pointer, w.Down.Pointer, w.InputNorm.Pointer, w.PostNorm.Pointer];
            row.CopyTo(pointers, l * PersistentLayerPointers);
        }

        var buffer = _context.Allocate(pointers.Length * 8L);
        _context.CopyToDevice(buffer.Pointer, (ReadOnlySpan<ulong>)pointers, _stream);
        return buffer;
    }
}
