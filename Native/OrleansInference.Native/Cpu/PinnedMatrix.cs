using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace OrleansInference.Native.Cpu;

/// <summary>
/// A float32 matrix <c>[Rows, Cols]</c> row-major (HF's <c>[out, in]</c> for weights) in a pinned array, so kernels can
/// use a stable pointer for the backend's lifetime.
/// </summary>
internal sealed unsafe class PinnedMatrix
{
    private readonly float[] _data;

    public PinnedMatrix(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        _data = GC.AllocateArray<float>(checked(rows * cols), pinned: true);
        Pointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
    }

    public int Rows { get; }

    public int Cols { get; }

    public float* Pointer { get; }

    public Span<float> Span => _data;

    public Span<float> Row(int row) => _data.AsSpan(row * Cols, Cols);
}
