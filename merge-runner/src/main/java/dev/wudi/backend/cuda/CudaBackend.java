package dev.wudi.backend.cuda;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.WudiProblem;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.Cusolver;
import dev.wudi.cuda.KernelModule;
import dev.wudi.cuda.PinnedBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SymmetricEigen;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The WUDI solver on one NVIDIA GPU: cuBLAS for the products (C, D, and one GEMM per Adam step), the
 * kernels of cuda-kernels/ for everything element-wise (specification 5). Three streams, so that the next tensor is read in
 * while this one solves: uploads, downloads and the per-task norms on the copy stream; the Gram form's products (C, D,
 * K) on the setup stream, with a cuBLAS handle of its own; the solve on the compute stream, with another. What every
 * tensor needs is kept from tensor to tensor: device memory ({@link DevicePool}), small pinned buffers
 * ({@link PinnedPool}), events ({@link EventPool}) and one pinned staging area ({@link PinnedStage}), so that a warm
 * merge allocates nothing per tensor. Open it through {@link CudaBackends#open(int, boolean)}.
 * Not thread-safe: one thread at a time uses a backend and its problems (any thread; each call makes the
 * device current on the calling thread).
 */
public final class CudaBackend implements Backend {

    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(
            Capability.TASK_VECTORS_FROM_CHECKPOINT, Capability.MERGED_OUTPUT, Capability.ASYNCHRONOUS,
            Capability.SPECTRAL_SOLVERS));

    private final CudaDevice device;
    private final KernelModule module;
    private final WudiKernels kernels;
    private final CudaStream compute;
    private final CudaStream copy;
    private final CudaStream setup;
    private final Cublas cublas;
    private final Cublas setupBlas;
    private final DevicePool pool;
    private final PinnedPool pinned;
    private final EventPool events;
    private final PinnedStage stage;
    private final PinnedBuffer normHost;     // a task's squared norm, read by the host right after its copy
    private final Precision precision;
    private Cusolver cusolver;               // on the first spectral solve, if cuSOLVER loads
    private SymmetricEigen eigenOverride;    // tests: force the CPU eigensolver
    private boolean closed;

    CudaBackend(int ordinal, Precision precision) {
        this.precision = precision;
        this.device = CudaDevice.open(ordinal);
        KernelModule m = null;
        CudaStream cs = null;
        CudaStream us = null;
        CudaStream ss = null;
        Cublas cb = null;
        Cublas sb = null;
        PinnedBuffer nh = null;
        try {
            m = KernelModule.load(device);
            cs = device.newStream();
            us = device.newStream();
            ss = device.newStream();
            cb = Cublas.create(device, cs);
            sb = Cublas.create(device, ss);
            nh = device.allocatePinned(8, "a task vector's squared norm on cuda:" + ordinal);
        } catch (RuntimeException e) {
            closeQuietly(nh);
            closeQuietly(sb);
            closeQuietly(cb);
            closeQuietly(ss);
            closeQuietly(us);
            closeQuietly(cs);
            closeQuietly(m);
            device.close();
            throw e;
        }
        this.module = m;
        this.kernels = new WudiKernels(m);
        this.compute = cs;
        this.copy = us;
        this.setup = ss;
        this.cublas = cb;
        this.setupBlas = sb;
        this.normHost = nh;
        this.pool = new DevicePool(device, List.of(cs, us, ss));
        this.pinned = new PinnedPool(device);
        this.events = new EventPool(device);
        this.stage = new PinnedStage(device);
    }

    @Override
    public String name() {
        return "cuda:" + device.ordinal();
    }

    @Override
    public String describe() {
        int v = cublas.version();
        return String.format(java.util.Locale.ROOT, "%s: %s; cuBLAS %d.%d.%d from %s; step GEMM %s", name(),
                device.describe(), v / 10000, (v / 100) % 100, v % 100, Cublas.loadedFrom(), precision.flag());
    }

    @Override
    public WudiProblem newProblem(String tensorName, int rows, int cols) {
        ensureOpen();
        return new CudaWudiProblem(this, tensorName, rows, cols);
    }

    /**
     * Its problems take raw checkpoint bytes, form the merged weight on the device, queue their solves and run the
     * spectral solvers. C is formed in float32, so the exact solver without a ridge moves to the CPU
     * ({@link dev.wudi.backend.Placement}).
     */
    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    /** Where cuSOLVER does not load, the eigendecompositions of the spectral solvers run on the CPU: that line. */
    @Override
    public String spectralSolversNote() {
        String why = eigenFallbackReason();
        return why == null ? null : "cuSOLVER is not available (" + why + "); the eigendecompositions of the spectral"
                + " solvers run on the CPU (LAPACK) and their products on " + name();
    }

    /**
     * Null if the spectral solvers' eigendecomposition runs on this GPU (cuSOLVER loads); else why it runs on the
     * CPU (LAPACK, on a downloaded C) instead, with the fix. The products stay on the GPU either way.
     */
    public String eigenFallbackReason() {
        return eigenOverride != null ? "the eigensolver was set to " + eigenOverride.name() : Cusolver.unavailableReason();
    }

    /** The eigensolver of the spectral solvers: cuSOLVER where it loads, else LAPACK on the host. */
    SymmetricEigen eigen(TensorMemory memory) {
        if (eigenOverride != null) {
            return eigenOverride;
        }
        if (Cusolver.unavailableReason() != null) {
            return new LapackEigen();
        }
        if (cusolver == null) {
            device.makeCurrent();
            cusolver = Cusolver.create(device, compute);
        }
        return new CusolverEigen(cusolver, memory);
    }

    /** For tests: use {@code eigen} (e.g. LAPACK, as without cuSOLVER) instead; null restores the default. */
    void useEigen(SymmetricEigen eigen) {
        this.eigenOverride = eigen;
    }

    public Precision precision() {
        return precision;
    }

    public CudaDevice device() {
        return device;
    }

    WudiKernels kernels() {
        return kernels;
    }

    /** cuBLAS on the compute stream: the solve's products. */
    Cublas cublas() {
        return cublas;
    }

    /** cuBLAS on the setup stream: the Gram form's products, while the compute stream solves the previous tensor. */
    Cublas setupBlas() {
        return setupBlas;
    }

    CudaStream computeStream() {
        return compute;
    }

    CudaStream copyStream() {
        return copy;
    }

    CudaStream setupStream() {
        return setup;
    }

    DevicePool pool() {
        return pool;
    }

    PinnedPool pinned() {
        return pinned;
    }

    EventPool events() {
        return events;
    }

    PinnedStage stage() {
        return stage;
    }

    PinnedBuffer normHost() {
        return normHost;
    }

    /** Device bytes a new problem can have: free on the device, plus what the pool holds idle. */
    long freeMemory() {
        return device.freeMemory() + pool.idleBytes();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(name() + " is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        device.synchronize();
        if (cusolver != null) {
            cusolver.close();
        }
        stage.close();
        pool.close();
        pinned.close();
        events.close();
        normHost.close();
        setupBlas.close();
        cublas.close();
        setup.close();
        copy.close();
        compute.close();
        module.close();
        device.close();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c != null) {
            try {
                c.close();
            } catch (Exception ignored) {
                // already failing; the first error is the one reported
            }
        }
    }
}
