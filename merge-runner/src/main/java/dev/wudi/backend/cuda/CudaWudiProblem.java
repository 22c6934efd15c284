package dev.wudi.backend.cuda;

import dev.wudi.backend.AsyncWudiProblem;
import dev.wudi.backend.CheckpointWudiProblem;
import dev.wudi.backend.MergedOutputProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaEvent;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.PinnedBuffer;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.format.DType;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralSolver;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The WUDI problem of one [rows, cols] weight on the GPU, in the Gram form of SPEC 2.2:
 * <pre>
 *   per task i:  w_i = 1 / ||tau_i||_F^2   (0 for a zero tau_i, which still joins the sum)
 *                G_i = tau_i^T tau_i        (cuBLAS SYRK + symmetrise)
 *                C  += w_i G_i              (axpy)          D += w_i tau_i G_i   (GEMM)
 *                K  += w_i ||G_i||_F^2      (device reduction, one slot per task)
 *                sum += tau_i               (axpy)
 *   solve:       an {@link AdamRun}: tau_m = sum; each step P = tau_m C (ONE GEMM), then FusedAdam
 *                or, for the spectral solvers (SPEC 2.3), a {@link SpectralRun}: one eigendecomposition of C
 *                (cuSOLVER, or LAPACK on the host where cuSOLVER is absent) and three GEMMs
 * </pre>
 * With W_0 given through setBase, {@link #mergeOnDevice} makes the solve form W_0 + tau_m on the device in the
 * output dtype ({@link DeviceMerge}) and download that (2 bytes per element for a 16-bit output) instead of tau_m.
 * Task vector i+1 is uploaded on the copy stream while task i's products run on the compute stream (two
 * device upload slots). The host waits once per task, for the 8-byte norm that gives w_i. Host memory:
 * two pinned chunks of at most 64 MiB ({@link PinnedStage}), whatever the tensor's size.
 */
final class CudaWudiProblem implements AsyncWudiProblem, CheckpointWudiProblem, MergedOutputProblem {

    private static final int INITIAL_TASK_SLOTS = 64;

    private final CudaBackend backend;
    private final CudaDevice device;
    private final WudiKernels kernels;
    private final Cublas cublas;
    private final CudaStream compute;
    private final CudaStream copy;
    private final String tensorName;
    private final int rows;
    private final int cols;
    private final long n;
    private final long cc;
    private final TensorMemory memory;

    // held for the problem's life
    private final DeviceBuffer sum;          // (rows, cols) sum_i tau_i, the Adam start
    private final DeviceBuffer d;            // (rows, cols) D = sum_i w_i tau_i G_i
    private final DeviceBuffer c;            // (cols, cols) C = sum_i w_i G_i
    private final DeviceBuffer normPartials; // copy stream's reduction scratch
    private final DeviceBuffer normOut;      // 1 double
    private final DeviceBuffer kPartials;    // compute stream's reduction scratch
    private final PinnedStage stage;         // pinned chunks for every upload and the final download
    private final PinnedBuffer normHost;     // 1 double
    private final CudaEvent[] uploaded = new CudaEvent[2];
    private final CudaEvent[] consumed = new CudaEvent[2];
    private DeviceBuffer kTerms;             // ||G_i||_F^2 per task, on the device
    private int kCapacity;

    // freed before the solve, re-made if a task vector comes after it
    private DeviceBuffer g;                  // (cols, cols) G_i scratch
    private final DeviceBuffer[] upload = new DeviceBuffer[2];

    // CheckpointWudiProblem: W_0 and one W_i in their checkpoint dtype, freed before the solve
    private DeviceBuffer base;
    private DeviceBuffer raw;
    private DType baseType;
    private DeviceMerge.Request mergeRequest;  // MergedOutputProblem: asked for the next solve (holds on to base)
    private ByteBuffer merged;                 // the last solve's W_0 + tau_m, encoded

    private final List<AutoCloseable> owned = new ArrayList<>();   // freed by close(), last first
    private final CudaEvent done;           // end of the queued solve
    private AdamRun pending;                 // a queued solveAdamAsync, until awaited
    private double[] weights = new double[INITIAL_TASK_SLOTS];
    private int tasks;
    private int zeroTasks;
    private boolean closed;

    CudaWudiProblem(CudaBackend backend, String tensorName, int rows, int cols) {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("tensor " + tensorName + " has shape [" + rows + ", " + cols + "]");
        }
        this.backend = backend;
        this.device = backend.device();
        this.kernels = backend.kernels();
        this.cublas = backend.cublas();
        this.compute = backend.computeStream();
        this.copy = backend.copyStream();
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
        this.n = (long) rows * cols;
        this.cc = (long) cols * cols;
        this.memory = new TensorMemory(device, backend.name(), tensorName, rows, cols);
        device.makeCurrent();
        long need = WorkingSet.peakBytes(rows, cols);
        long free = device.freeMemory();
        if (need > free) {
            throw new DeviceMemoryException(tensorName, rows, cols, need, free, backend.name());
        }
        boolean ok = false;
        try {
            this.sum = own(alloc(4 * n, "the task-vector sum"));
            this.d = own(alloc(4 * n, "D"));
            this.c = own(alloc(4 * cc, "C"));
            this.normPartials = own(alloc(WudiKernels.PARTIALS_BYTES, "norm partials"));
            this.normOut = own(alloc(8, "a task norm"));
            this.kPartials = own(alloc(WudiKernels.PARTIALS_BYTES, "K partials"));
            this.stage = own(new PinnedStage(device, 4 * n, "staging for tensor " + tensorName));
            this.normHost = own(device.allocatePinned(8, "a task norm of tensor " + tensorName));
            this.done = own(device.newEvent(false));
            for (int s = 0; s < 2; s++) {
                uploaded[s] = own(device.newEvent(false));
                consumed[s] = own(device.newEvent(false));
            }
            this.kCapacity = INITIAL_TASK_SLOTS;
            this.kTerms = alloc(8L * kCapacity, "K terms");
            sum.zeroAsync(4 * n, compute);
            d.zeroAsync(4 * n, compute);
            c.zeroAsync(4 * cc, compute);
            ok = true;
        } finally {
            if (!ok) {
                closeQuietly(kTerms);
                for (int i = owned.size() - 1; i >= 0; i--) {
                    closeQuietly(owned.get(i));
                }
            }
        }
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    @Override
    public void addTaskVector(float[] tau) {
        ensureOpen();
        if (pending != null) {
            throw new IllegalStateException("tensor " + tensorName + ": a solve is queued; await it before adding task vectors");
        }
        if (tau.length != n) {
            throw new IllegalArgumentException("task vector for tensor " + tensorName + " has " + tau.length
                    + " elements, expected " + rows + " x " + cols + " = " + n);
        }
        device.makeCurrent();
        ensureSetupBuffers();
        ensureTaskSlot(tasks);
        int slot = tasks & 1;
        copy.waitFor(consumed[slot]);                    // slot's last products (task i-2) are done with it
        stage.upload(tau, upload[slot], copy);
        ingest(slot);
    }

    @Override
    public void setBase(ByteBuffer w0, DType dtype) {
        ensureOpen();
        if (!dtype.mergeable()) {
            throw new IllegalArgumentException("tensor " + tensorName + ": dtype " + dtype + " is not merged (F32, F16 or BF16)");
        }
        if (baseType != null) {
            throw new IllegalStateException("tensor " + tensorName + ": the base W_0 is already set");
        }
        long bytes = checkBytes(w0, dtype, "W_0");
        device.makeCurrent();
        base = alloc(bytes, "W_0 (" + dtype + ")");
        stageRaw(w0, base);
        copy.synchronize("uploading W_0 of tensor " + tensorName);
        baseType = dtype;
    }

    @Override
    public void addFineTuned(ByteBuffer wi) {
        ensureOpen();
        if (pending != null) {
            throw new IllegalStateException("tensor " + tensorName + ": a solve is queued; await it before adding task vectors");
        }
        if (baseType == null || base == null) {
            throw new IllegalStateException("tensor " + tensorName + ": setBase(W_0) must come before addFineTuned"
                    + " (and again after a solve, which frees it)");
        }
        long bytes = checkBytes(wi, baseType, "W_" + (tasks + 1));
        device.makeCurrent();
        ensureSetupBuffers();
        ensureTaskSlot(tasks);
        if (raw == null) {
            raw = alloc(bytes, "W_i (" + baseType + ")");
        }
        int slot = tasks & 1;
        copy.waitFor(consumed[slot]);
        stageRaw(wi, raw);
        DeviceBuffer tau = upload[slot];
        switch (baseType) {                                   // tau_i = widen(W_i) - widen(W_0), on the device
            case F32: kernels.taskVectorF32(raw, base, tau, n, copy); break;
            case BF16: kernels.taskVectorBf16(raw, base, tau, n, copy); break;
            case F16: kernels.taskVectorF16(raw, base, tau, n, copy); break;
            default: throw new AssertionError(baseType);
        }
        ingest(slot);
    }

    private long checkBytes(ByteBuffer b, DType dtype, String what) {
        long want = n * dtype.bytes();
        if (b.remaining() != want) {
            throw new IllegalArgumentException(what + " of tensor " + tensorName + " has " + b.remaining() + " bytes, expected "
                    + rows + " x " + cols + " x " + dtype.bytes() + " = " + want + " (" + dtype + ")");
        }
        return want;
    }

    /** Copies raw checkpoint bytes through the pinned stage into {@code dst}, on the copy stream. */
    private void stageRaw(ByteBuffer src, DeviceBuffer dst) {
        stage.upload(src, dst, copy);
    }

    /**
     * Folds the float32 task vector now in upload[slot] (queued on the copy stream) into the Gram form:
     * its norm on the copy stream, read back for w_i, then the products on the compute stream.
     */
    private void ingest(int slot) {
        DeviceBuffer up = upload[slot];
        int parts = kernels.squaredNormPartials(up, n, normPartials, copy);
        kernels.reducePartials(normPartials, parts, normOut, 0, copy);
        normOut.copyToAsync(normHost, 8, copy);
        uploaded[slot].record(copy);
        copy.synchronize("uploading task vector " + (tasks + 1) + " of tensor " + tensorName);
        double normSq = normHost.bytesView().getDouble(0);
        // The same rules as the CPU's GramForm: NaN/Inf and an unrepresentable weight are errors that
        // leave the state unchanged; a zero task vector gets weight 0 but still joins the sum.
        if (!Double.isFinite(normSq)) {
            throw new IllegalArgumentException("task vector " + (tasks + 1) + " of tensor " + tensorName
                    + " holds NaN or infinite values");
        }
        if (normSq != 0.0 && !Float.isFinite((float) (1.0 / normSq))) {
            throw new IllegalArgumentException("task vector " + (tasks + 1) + " of tensor " + tensorName
                    + " has squared norm " + normSq + ": its weight 1/||tau||^2 does not fit in float32");
        }
        double w = normSq > 0 ? 1.0 / normSq : 0.0;   // w_i = 1 / ||tau_i||_F^2
        if (w == 0.0) {
            zeroTasks++;
        }
        weights[tasks] = w;

        compute.waitFor(uploaded[slot]);
        String ctx = "adding task vector " + (tasks + 1) + " of tensor " + tensorName + " [" + rows + ", " + cols + "]";
        cublas.axpy(n, 1f, up, sum, ctx);                                     // sum += tau_i
        if (w > 0) {
            float wf = (float) w;
            cublas.gramUpper(up, rows, cols, g, ctx);                           // G = tau_i^T tau_i (upper)
            kernels.symmetrizeFromUpper(g, cols, compute);
            cublas.axpy(cc, wf, g, c, ctx);                                     // C += w_i G
            cublas.rowMajorTimesSquare(up, rows, cols, g, wf, 1f, d, ctx);      // D += w_i tau_i G
            int kp = kernels.squaredNormPartials(g, cc, kPartials, compute);   // ||tau_i^T tau_i||_F^2
            kernels.reducePartials(kPartials, kp, kTerms, tasks, compute);
        }
        consumed[slot].record(compute);
        tasks++;
    }

    @Override
    public int taskCount() {
        return tasks;
    }

    @Override
    public int zeroTaskCount() {
        return zeroTasks;
    }

    @Override
    public boolean mergeOnDevice(DType out) {
        ensureOpen();
        if (pending != null || base == null || baseType == null || !out.mergeable()
                || n * out.bytes() > Integer.MAX_VALUE - 8) {
            return false;
        }
        mergeRequest = new DeviceMerge.Request(base, baseType, out);
        return true;
    }

    @Override
    public ByteBuffer mergedWeights() {
        if (merged == null) {
            throw new IllegalStateException("tensor " + tensorName + ": no solve formed the merged weight"
                    + " (mergeOnDevice must say true before the solve)");
        }
        return merged.duplicate().order(merged.order());
    }

    @Override
    public WudiResult solveAdam(AdamConfig config, StepListener listener) {
        AdamRun solve = start(config);
        try {
            solve.enqueue(listener);
        } catch (RuntimeException e) {
            finish(solve);
            throw e;
        }
        return collect(solve, listener);
    }

    /**
     * Adam goes to {@link #solveAdam}; exact, flow and spectral run as a {@link SpectralRun} on the Gram form already
     * on the device.
     */
    @Override
    public WudiResult solve(SolverSpec spec, StepListener listener) {
        if (spec instanceof SolverSpec.Adam adam) {
            return solveAdam(adam.config(), listener);
        }
        double k = readyToSolve();
        DeviceMerge.Request merge = takeMergeRequest();
        try (SpectralRun run = new SpectralRun(backend, memory, new AdamRun.GramForm(sum, d, c, rows, cols, k), stage, merge)) {
            WudiResult r = run.solve(SpectralSolver.filterOf(spec), backend.eigen(memory));
            merged = run.merged();
            return r;
        } finally {
            closeQuietly(base);              // kept through the solve only for a merge request
            base = null;
            baseType = null;
        }
    }

    /** Waits for the run, keeps its merged weight if one was asked for, frees the run and W_0. */
    private WudiResult collect(AdamRun solve, StepListener listener) {
        try {
            WudiResult r = solve.collect(listener);
            merged = solve.merged();
            return r;
        } finally {
            finish(solve);
        }
    }

    private void finish(AdamRun solve) {
        solve.close();
        closeQuietly(base);                  // kept through the solve only for a merge request
        base = null;
        baseType = null;
    }

    /** Queues the solve on the compute stream and returns; uploads of the next tensor overlap it. */
    @Override
    public Pending solveAdamAsync(AdamConfig config) {
        AdamRun solve = start(config);
        try {
            solve.enqueue(null);
        } catch (RuntimeException e) {
            solve.close();
            throw e;
        }
        pending = solve;
        return () -> {
            try {
                return collect(solve, null);
            } finally {
                pending = null;
            }
        };
    }

    /** Checks a solve may start, waits for the Gram form on the device, and returns K. */
    private double readyToSolve() {
        ensureOpen();
        if (tasks == 0) {
            throw new IllegalStateException("tensor " + tensorName + ": no task vector was added");
        }
        if (pending != null) {
            throw new IllegalStateException("tensor " + tensorName + ": a solve is already queued; await it first");
        }
        device.makeCurrent();
        compute.synchronize("finishing the Gram form of tensor " + tensorName);
        return kConstant();
    }

    private AdamRun start(AdamConfig config) {
        double k = readyToSolve();
        DeviceMerge.Request merge = takeMergeRequest();
        AdamRun run;
        try {
            run = new AdamRun(backend, memory, new AdamRun.GramForm(sum, d, c, rows, cols, k), stage, done, config, merge);
        } catch (RuntimeException e) {
            closeQuietly(base);
            base = null;
            baseType = null;
            throw e;
        }
        return run;
    }

    /** K = sum_i w_i ||tau_i^T tau_i||_F^2, in task order, in double. */
    private double kConstant() {
        double[] terms = new double[tasks];
        kTerms.download(terms);   // the compute stream is idle (synchronised by the caller)
        double k = 0;
        for (int i = 0; i < tasks; i++) {
            if (weights[i] > 0) {
                k += weights[i] * terms[i];
            }
        }
        return k;
    }

    private void ensureSetupBuffers() {
        if (g == null) {
            g = alloc(4 * cc, "G = tau_i^T tau_i");
        }
        for (int s = 0; s < 2; s++) {
            if (upload[s] == null) {
                upload[s] = alloc(4 * n, "task-vector upload slot " + s);
            }
        }
    }

    /**
     * The merge request for the solve now starting (null if none), and frees the setup buffers, W_0 too unless
     * the request needs it.
     */
    private DeviceMerge.Request takeMergeRequest() {
        DeviceMerge.Request r = mergeRequest;
        mergeRequest = null;
        merged = null;
        if (r == null) {
            releaseSetupBuffers();
        } else {
            releaseScratch();
        }
        return r;
    }

    private void releaseSetupBuffers() {
        closeQuietly(base);
        base = null;
        baseType = null;
        releaseScratch();
    }

    private void releaseScratch() {
        closeQuietly(g);
        g = null;
        closeQuietly(raw);
        raw = null;
        for (int s = 0; s < 2; s++) {
            closeQuietly(upload[s]);
            upload[s] = null;
        }
    }

    private void ensureTaskSlot(int index) {
        if (index >= weights.length) {
            weights = Arrays.copyOf(weights, weights.length * 2);
        }
        if (index >= kCapacity) {
            compute.synchronize("growing the K terms of tensor " + tensorName);
            DeviceBuffer bigger = alloc(8L * kCapacity * 2, "K terms");
            bigger.copyFromAsync(kTerms, 8L * kCapacity, compute);
            compute.synchronize("growing the K terms of tensor " + tensorName);
            kTerms.close();
            kTerms = bigger;
            kCapacity *= 2;
        }
    }

    private DeviceBuffer alloc(long bytes, String what) {
        return memory.alloc(bytes, what);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the problem of tensor " + tensorName + " is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        if (pending != null) {
            pending.close();
            pending = null;
        }
        compute.synchronize("closing tensor " + tensorName);
        copy.synchronize("closing tensor " + tensorName);
        releaseSetupBuffers();
        closeQuietly(kTerms);
        for (int i = owned.size() - 1; i >= 0; i--) {
            closeQuietly(owned.get(i));
        }
    }

    private static void closeQuietly(AutoCloseable r) {
        if (r != null) {
            try {
                r.close();
            } catch (Exception ignored) {
                // freeing is best effort once something already failed
            }
        }
    }
}
