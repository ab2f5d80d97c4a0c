namespace OrleansInference.Native.Interop;

/// <summary>
/// One GPU's primary context and the facts about the device that kernels and heuristics need. Factory for the
/// native objects that live in it (memory, streams, events, modules), each a SafeHandle that keeps it retained.
/// </summary>
internal sealed unsafe class CudaContext : IDisposable
{
    private CudaContext(CudaDriverApi api, int ordinal, int device, PrimaryContextHandle handle)
    {
        Api = api;
        Ordinal = ordinal;
        Device = device;
        Handle = handle;
        Name = api.DeviceName(device);
        ComputeMajor = api.Attribute(device, CuDeviceAttribute.ComputeCapabilityMajor);
        ComputeMinor = api.Attribute(device, CuDeviceAttribute.ComputeCapabilityMinor);
        MultiprocessorCount = api.Attribute(device, CuDeviceAttribute.MultiprocessorCount);
        L2CacheBytes = api.Attribute(device, CuDeviceAttribute.L2CacheSize);
        MaxSharedMemoryPerBlockOptin = api.Attribute(device, CuDeviceAttribute.MaxSharedMemoryPerBlockOptin);
        nuint total;
        api.Check(api.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem_v2");
        TotalMemoryBytes = (long)total;
        DriverVersion = api.DriverVersion();
    }

    public CudaDriverApi Api { get; }

    public int Ordinal { get; }

    public int Device { get; }

    public PrimaryContextHandle Handle { get; }

    public string Name { get; }

    public int ComputeMajor { get; }

    public int ComputeMinor { get; }

    /// <summary>e.g. <c>sm_90</c>.</summary>
    public string Architecture => $"sm_{ComputeMajor}{ComputeMinor}";

    public int MultiprocessorCount { get; }

    public int L2CacheBytes { get; }

    public int MaxSharedMemoryPerBlockOptin { get; }

    public long TotalMemoryBytes { get; }

    /// <summary>e.g. 13000 for CUDA 13.0.</summary>
    public int DriverVersion { get; }

    /// <summary>
    /// Launch kernels with programmatic stream serialization (Hopper and newer): a kernel may be scheduled while its
    /// predecessor finishes and waits for it with <c>griddepcontrol.wait</c>, hiding launch gaps. Only for kernels
    /// that begin with that wait (ours do).
    /// </summary>
    public bool ProgrammaticLaunch { get; set; }

    /// <summary>
    /// Loads the driver, retains device <paramref name="ordinal"/>'s primary context and makes it current.
    /// Throws <see cref="CudaUnavailableException"/> when there is no driver or no such device.
    /// </summary>
    public static CudaContext Open(int ordinal)
    {
        var api = CudaDriverApi.Load();
        int count = api.DeviceCount();
        if (ordinal < 0 || ordinal >= count)
        {
            throw new CudaUnavailableException(count == 0 ? "No CUDA device is present." : $"CUDA device {ordinal} does not exist ({count} present).");
        }

        int device;
        api.Check(api.cuDeviceGet(&device, ordinal), "cuDeviceGet");
        nint ctx;
        api.Check(api.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
        var handle = new PrimaryContextHandle(api, device, ctx);
        var context = new CudaContext(api, ordinal, device, handle);
        context.MakeCurrent();
        return context;
    }

    /// <summary>Makes the context current on the calling thread (cheap; called before each operation).</summary>
    public void MakeCurrent() => Api.Check(Api.cuCtxSetCurrent(Handle.DangerousGetHandle()), "cuCtxSetCurrent");

    public (long Free, long Total) MemoryInfo()
    {
        MakeCurrent();
        nuint free, total;
        Api.Check(Api.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2");
        return ((long)free, (long)total);
    }

    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        ulong p;
        int r = Api.cuMemAlloc(&p, (nuint)bytes);
        if (r != 0)
        {
            var (free, total) = MemoryInfo();
            throw new CudaException("cuMemAlloc_v2", r, Api.ErrorName(r),
                $"{Api.ErrorString(r)} (asked for {bytes / (1024.0 * 1024):F1} MiB; {free / (1024.0 * 1024):F0} of {total / (1024.0 * 1024):F0} MiB free)");
        }

        return new DeviceBuffer(this, p, bytes);
    }

    public PinnedHostBuffer AllocatePinned(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        MakeCurrent();
        void* p;
        Api.Check(Api.cuMemHostAlloc(&p, (nuint)bytes, 0), "cuMemHostAlloc");
        return new PinnedHostBuffer(this, p, bytes);
    }

    public CudaStream CreateStream()
    {
        MakeCurrent();
        nint s;
        Api.Check(Api.cuStreamCreate(&s, CudaDriverApi.StreamNonBlocking), "cuStreamCreate");
        return new CudaStream(this, s);
    }

    public CudaEvent CreateEvent()
    {
        MakeCurrent();
        nint e;
        Api.Check(Api.cuEventCreate(&e, 0), "cuEventCreate");
        return new CudaEvent(this, e);
    }

    public CudaModule LoadModule(ReadOnlySpan<byte> image)
    {
        MakeCurrent();
        nint m;
        fixed (byte* p = image)
        {
            Api.Check(Api.cuModuleLoadData(&m, p), "cuModuleLoadData");
        }

        return new CudaModule(this, m);
    }

    public void Synchronize()
    {
        MakeCurrent();
        Api.Check(Api.cuCtxSynchronize(), "cuCtxSynchronize");
    }

    public void CopyToDevice<T>(ulong destination, ReadOnlySpan<T> source, CudaStream stream)
        where T : unmanaged
    {
        if (source.IsEmpty)
        {
            return;
        }

        fixed (T* p = source)
        {
            Api.Check(Api.cuMemcpyHtoDAsync(destination, p, (nuint)((long)source.Length * sizeof(T)), stream.Value), "cuMemcpyHtoDAsync_v2");
        }
    }

    public void CopyToHost<T>(Span<T> destination, ulong source, CudaStream stream)
        where T : unmanaged
    {
        if (destination.IsEmpty)
        {
            return;
        }

        fixed (T* p = destination)
        {
            Api.Check(Api.cuMemcpyDtoHAsync(p, source, (nuint)((long)destination.Length * sizeof(T)), stream.Value), "cuMemcpyDtoHAsync_v2");
        }
    }

    public void CopyDeviceToDevice(ulong destination, ulong source, long bytes, CudaStream stream) =>
        Api.Check(Api.cuMemcpyDtoDAsync(destination, source, (nuint)bytes, stream.Value), "cuMemcpyDtoDAsync_v2");

    public void Memset(ulong destination, byte value, long bytes, CudaStream stream) =>
        Api.Check(Api.cuMemsetD8Async(destination, value, (nuint)bytes, stream.Value), "cuMemsetD8Async");

    public void Memset32(ulong destination, uint value, long count, CudaStream stream) =>
        Api.Check(Api.cuMemsetD32Async(destination, value, (nuint)count, stream.Value), "cuMemsetD32Async");

    /// <summary>Launches <paramref name="function"/>; the status of the launch itself is checked (not the kernel's run).</summary>
    public void Launch(CudaFunction function, (uint X, uint Y, uint Z) grid, uint blockThreads, uint sharedBytes, CudaStream stream, ref KernelArgs args)
    {
        if (grid.X == 0 || grid.Y == 0 || grid.Z == 0)
        {
            return;
        }

        void** pointers = stackalloc void*[KernelArgs.Capacity];
        fixed (KernelArgs* a = &args)
        {
            a->Fill(pointers);
            int r = ProgrammaticLaunch && Api.cuLaunchKernelEx != null
                ? LaunchWithAttribute(function, grid, blockThreads, sharedBytes, stream, pointers, CuLaunchAttribute.ProgrammaticStreamSerialization)
                : Api.cuLaunchKernel(function.Handle, grid.X, grid.Y, grid.Z, blockThreads, 1, 1, sharedBytes, stream.Value, pointers, null);

            if (r != 0)
            {
                Api.Check(r, $"cuLaunchKernel({function.Name}, grid {grid.X}x{grid.Y}x{grid.Z}, block {blockThreads}, smem {sharedBytes})");
            }
        }
    }

    /// <summary>Whether the driver has cuLaunchKernelEx (launch attributes: cooperative, programmatic serialization).</summary>
    public bool SupportsLaunchAttributes => Api.cuLaunchKernelEx != null;

    /// <summary>
    /// Launches a kernel whose blocks must all be resident at once (they wait for each other): a cooperative launch,
    /// which the driver refuses rather than starting a grid larger than the device can hold. Needs cuLaunchKernelEx.
    /// </summary>
    public void LaunchCooperative(CudaFunction function, uint gridBlocks, uint blockThreads, uint sharedBytes, CudaStream stream, ref KernelArgs args)
    {
        if (Api.cuLaunchKernelEx == null)
        {
            throw new CudaException($"cuLaunchKernelEx is not exported by this driver; {function.Name} needs a cooperative launch.");
        }

        void** pointers = stackalloc void*[KernelArgs.Capacity];
        fixed (KernelArgs* a = &args)
        {
            a->Fill(pointers);
            Api.Check(
                LaunchWithAttribute(function, (gridBlocks, 1, 1), blockThreads, sharedBytes, stream, pointers, CuLaunchAttribute.Cooperative),
                $"cuLaunchKernelEx({function.Name}, cooperative, grid {gridBlocks}, block {blockThreads}, smem {sharedBytes})");
        }
    }

    /// <summary>cuLaunchKernelEx with one launch attribute switched on; returns its status.</summary>
    private int LaunchWithAttribute(CudaFunction function, (uint X, uint Y, uint Z) grid, uint blockThreads, uint sharedBytes, CudaStream stream, void** pointers, int attributeId)
    {
        var attribute = new CuLaunchAttribute { Id = attributeId, Value = 1 };
        var config = new CuLaunchConfig
        {
            GridX = grid.X, GridY = grid.Y, GridZ = grid.Z, BlockX = blockThreads, BlockY = 1, BlockZ = 1,
            SharedBytes = sharedBytes, Stream = stream.Value, Attributes = &attribute, AttributeCount = 1,
        };
        return Api.cuLaunchKernelEx(&config, function.Handle, pointers, null);
    }

    /// <summary>How many blocks of <paramref name="function"/> one multiprocessor holds at once.</summary>
    public int MaxActiveBlocksPerMultiprocessor(CudaFunction function, int blockThreads, int sharedBytes)
    {
        int blocks;
        Api.Check(Api.cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, function.Handle, blockThreads, (nuint)sharedBytes), $"cuOccupancyMaxActiveBlocksPerMultiprocessor({function.Name})");
        return blocks;
    }

    /// <summary>One of the kernel's CU_FUNC_ATTRIBUTE values (<see cref="CudaDriverApi"/>'s FuncAttribute constants).</summary>
    public int FunctionAttribute(CudaFunction function, int attribute)
    {
        int value;
        Api.Check(Api.cuFuncGetAttribute(&value, attribute, function.Handle), $"cuFuncGetAttribute({function.Name}, {attribute})");
        return value;
    }

    public void SetMaxDynamicSharedMemory(CudaFunction function, int bytes) =>
        Api.Check(Api.cuFuncSetAttribute(function.Handle, CudaDriverApi.FuncAttributeMaxDynamicSharedSizeBytes, bytes), $"cuFuncSetAttribute({function.Name})");

    /// <summary>Releases this object's own reference to the primary context (children keep theirs until freed).</summary>
    public void Dispose() => Handle.Dispose();
}
