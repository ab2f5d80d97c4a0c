using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// A weight matrix <c>W[out, in]</c> (HF layout) repacked for <see cref="CpuKernels.MatMul"/>: column panels of
/// <see cref="PanelWidth"/> outputs, each stored <c>[in][PanelWidth]</c> contiguously, so the kernel streams the
/// weights once in order and accumulates 16 outputs per token in vector lanes (no horizontal sums). The last panel is
/// padded with zero rows. The bias, if any, is padded the same way.
/// </summary>
internal sealed unsafe class PackedWeights
{
    public const int PanelWidth = 16;

    private readonly float[] _data;
    private readonly float[]? _bias;

    /// <summary>Packs <paramref name="rowMajor"/> (<c>[rows, cols]</c>) and an optional bias of <c>rows</c>.</summary>
    public PackedWeights(ReadOnlySpan<float> rowMajor, int rows, int cols, ReadOnlySpan<float> bias = default)
    {
        if (rowMajor.Length != (long)rows * cols)
        {
            throw new ArgumentException($"Expected {(long)rows * cols} values for [{rows}, {cols}], got {rowMajor.Length}.", nameof(rowMajor));
        }

        Rows = rows;
        Cols = cols;
        Panels = (rows + PanelWidth - 1) / PanelWidth;
        _data = GC.AllocateArray<float>(checked(Panels * PanelWidth * cols), pinned: true);
        for (int r = 0; r < rows; r++)
        {
            int panel = r / PanelWidth, lane = r % PanelWidth;
            var src = rowMajor.Slice(r * cols, cols);
            int baseIndex = panel * cols * PanelWidth;
            for (int k = 0; k < cols; k++)
            {
                _data[baseIndex + (k * PanelWidth) + lane] = src[k];
            }
        }

        Pointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        if (!bias.IsEmpty)
        {
            if (bias.Length != rows)
            {
                throw new ArgumentException($"Bias has {bias.Length} values for {rows} rows.", nameof(bias));
            }

            _bias = GC.AllocateArray<float>(Panels * PanelWidth, pinned: true);
            bias.CopyTo(_bias);
            Bias = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bias));
        }
    }

    /// <summary>Outputs (HF <c>out</c>).</summary>
    public int Rows { get; }

    /// <summary>Inputs (HF <c>in</c>).</summary>
    public int Cols { get; }

    public int Panels { get; }

    public float* Pointer { get; }

    /// <summary>Padded bias, or null.</summary>
    public float* Bias { get; }
}
