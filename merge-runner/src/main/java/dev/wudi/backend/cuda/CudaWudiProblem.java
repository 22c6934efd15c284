package dev.wudi.backend.cuda;

import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
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
 * The WUDI problem of one [rows, cols] weight on the GPU, in the Gram form of specification 2.2:
 * <pre>
 *   per task i:  w_i = 1 / ||tau_i||_F^2   (0 for a zero tau_i, which still joins the sum)
 *                G_i = tau_i^T tau_i        (cuBLAS SYRK + symmetrise)
 *                C  += w_i G_i              (axpy)          D += w_i tau_i G_i   (GEMM)
 *                K  += w_i ||G_i||_F^2      (device reduction, one slot per task)
 *                sum += tau_i               (axpy)
 *   solve:       an {@link AdamRun}: tau_m = sum; each step P = tau_m C (ONE GEMM), then FusedAdam
 *                or, for the spectral solvers (specification 2.3), a {@link SpectralRun}: one eigendecomposition of C
 *                (cuSOLVER, or LAPACK on the host where cuSOLVER is absent) and three GEMMs
 * </pre>
 * With W_0 given through setBase, {@link #mergeOnDevice} makes the solve form W_0 + tau_m on the device in the
 * output dtype ({@link DeviceMerge}) and download that (2 bytes per element for a 16-bit output) instead of tau_m.
 * <p>
 * Streams: task vector i is uploaded and its norm taken on the copy stream, and its products run on the setup stream
 * (with the backend's second cuBLAS handle), so that the next tensor's task vectors go in while the compute stream
 * solves this one; two upload slots let the upload of task i+1 overlap the products of task i. The host waits once
 * per task, on the copy stream only, for the 8-byte norm that gives w_i; starting the solve waits for nothing (the
 * compute stream waits for the Gram form's event, and K is read on the host with the result). Memory, events and the
 * pinned staging area come from the backend's pools ({@link CudaBackend}): nothing is allocated per tensor once a
 * tensor of the same shape has been through.
 */
final class CudaWudiProblem implements WudiProblem {

    private static final int INITIAL_TASK_SLOTS = 64;

    private final CudaBackend backend;
    private final CudaDevice device;
    private final WudiKernels kernels;
    private final Cublas setupBlas;
    private final CudaStream copy;
    private final CudaStream setup;
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
    private final DeviceBuffer kPartials;    // setup stream's reduction scratch
    private final CudaEvent[] uploaded = new CudaEvent[2];
    private final CudaEvent[] consumed = new CudaEvent[2];
    private final CudaEvent gramReady;       // the setup stream's last product (and the K terms' copy to the host)
    private final CudaEvent copied;          // the copy stream's last upload (W_0 too), awaited by the setup stream
    private DeviceBuffer kTerms;             // ||G_i||_F^2 per task, on the device
    private PinnedBuffer kHost;              // the same on the host, copied when the solve starts
    private int kCapacity;
    private boolean gramQueued;              // gramReady recorded after the last task's products

    // given back before the solve, taken again if a task vector comes after it
    private DeviceBuffer g;                  // (cols, cols) G_i scratch
    private final DeviceBuffer[] upload = new DeviceBuffer[2];

    // setBase / addFineTuned: W_0 and one W_i in their checkpoint dtype, given back before the solve
    private DeviceBuffer base;
    private DeviceBuffer raw;
    private DType baseType;
    private DeviceMerge.Request mergeRequest;  // mergeOnDevice: asked for the next solve (holds on to base)
    private ByteBuffer merged;                 // the last solve's W_0 + tau_m, encoded

    private final List<DeviceBuffer> owned = new ArrayList<>();   // given back by close(), last first
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
        this.setupBlas = backend.setupBlas();
        this.copy = backend.copyStream();
        this.setup = backend.setupStream();
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
        this.n = (long) rows * cols;
        this.cc = (long) cols * cols;
        this.memory = new TensorMemory(backend, tensorName, rows, cols);
        device.makeCurrent();
        long need = WorkingSet.peakBytes(rows, cols);
        long free = backend.freeMemory();
        if (need > free) {
            throw new DeviceMemoryException(tensorName, rows, cols, need, free, backend.name());
        }
        EventPool events = backend.events();
        this.gramReady = events.take();
        this.copied = events.take();
        for (int s = 0; s < 2; s++) {
            uploaded[s] = events.take();
            consumed[s] = events.take();
        }
        boolean ok = false;
        try {
            this.sum = own(memory.alloc(4 * n, "the task-vector sum", setup));
            this.d = own(memory.alloc(4 * n, "D", setup));
            this.c = own(memory.alloc(4 * cc, "C", setup));
            this.normPartials = own(memory.alloc(WudiKernels.PARTIALS_BYTES, "norm partials", copy));
            this.normOut = own(memory.alloc(8, "a task norm", copy));
            this.kPartials = own(memory.alloc(WudiKernels.PARTIALS_BYTES, "K partials", setup));
            this.kCapacity = INITIAL_TASK_SLOTS;
            this.kTerms = memory.alloc(8L * kCapacity, "K terms", setup);
            this.kHost = backend.pinned().take(8L * kCapacity, "K terms");
            sum.zeroAsync(4 * n, setup);
            d.zeroAsync(4 * n, setup);
            c.zeroAsync(4 * cc, setup);
            backend.stage().ensure(4 * n);
            ok = true;
        } finally {
            if (!ok) {
                giveBackAll();
            }
        }
    }

    private DeviceBuffer own(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    @Override
    public void addTaskVector(float[] tau) {
        ensureOpen();
        ensureNotSolving();
        if (tau.length != n) {
            throw new IllegalArgumentException("task vector for tensor " + tensorName + " has " + tau.length
                    + " elements, expected " + rows + " x " + cols + " = " + n);
        }
        device.makeCurrent();
        ensureSetupBuffers();
        ensureTaskSlot(tasks);
        int slot = tasks & 1;
        copy.waitFor(consumed[slot]);                    // slot's last products (task i-2) are done with it
        backend.stage().upload(tau, upload[slot], copy);
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
        base = memory.alloc(bytes, "W_0 (" + dtype + ")", copy);
        backend.stage().upload(w0, base, copy);
        baseType = dtype;
    }

    @Override
    public void addFineTuned(ByteBuffer wi) {
        ensureOpen();
        ensureNotSolving();
        if (baseType == null || base == null) {
            throw new IllegalStateException("tensor " + tensorName + ": setBase(W_0) must come before addFineTuned"
                    + " (and again after a solve, which frees it)");
        }
        long bytes = checkBytes(wi, baseType, "W_" + (tasks + 1));
        device.makeCurrent();
        ensureSetupBuffers();
        ensureTaskSlot(tasks);
        if (raw == null) {
            raw = memory.alloc(bytes, "W_i (" + baseType + ")", copy);
        }
        int slot = tasks & 1;
        copy.waitFor(consumed[slot]);
        backend.stage().upload(wi, raw, copy);
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

    /**
     * Folds the float32 task vector now in upload[slot] (queued on the copy stream) into the Gram form:
     * its norm on the copy stream, read back for w_i, then the products on the setup stream.
     */
    private void ingest(int slot) {
        DeviceBuffer up = upload[slot];
        PinnedBuffer normHost = backend.normHost();
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

        setup.waitFor(uploaded[slot]);
        String ctx = "adding task vector " + (tasks + 1) + " of tensor " + tensorName + " [" + rows + ", " + cols + "]";
        setupBlas.axpy(n, 1f, up, sum, ctx);                                   // sum += tau_i
        if (w > 0) {
            float wf = (float) w;
            setupBlas.gramUpper(up, rows, cols, g, ctx);                         // G = tau_i^T tau_i (upper)
            kernels.symmetrizeFromUpper(g, cols, setup);
            setupBlas.axpy(cc, wf, g, c, ctx);                                   // C += w_i G
            setupBlas.rowMajorTimesSquare(up, rows, cols, g, wf, 1f, d, ctx);    // D += w_i tau_i G
            int kp = kernels.squaredNormPartials(g, cc, kPartials, setup);     // ||tau_i^T tau_i||_F^2
            kernels.reducePartials(kPartials, kp, kTerms, tasks, setup);
        }
        consumed[slot].record(setup);
        tasks++;
        gramQueued = false;
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
        readyToSolve();
        gramReady.synchronize("finishing the Gram form of tensor " + tensorName);
        double k = kConstant();
        DeviceMerge.Request merge = takeMergeRequest();
        try (SpectralRun run = new SpectralRun(backend, memory,
                new AdamRun.GramForm(sum, d, c, rows, cols, gramReady, () -> k), merge)) {
            WudiResult r = run.solve(SpectralSolver.filterOf(spec), backend.eigen(memory));
            merged = run.merged();
            return r;
        } finally {
            releaseBase();                   // kept through the solve only for a merge request
        }
    }

    /** Waits for the run (telling the listener of its steps), keeps its merged weight if asked for, gives it back. */
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
        releaseBase();                       // kept through the solve only for a merge request
    }

    /** Queues the solve on the compute stream and returns; uploads of the next tensor overlap it. */
    @Override
    public Pending solveAdamAsync(AdamConfig config) {
        AdamRun solve = start(config);
        try {
            solve.enqueue(null);
        } catch (RuntimeException e) {
            finish(solve);
            throw e;
        }
        pending = solve;
        return new Pending() {
            @Override
            public WudiResult await() {
                return await(null);
            }

            @Override
            public WudiResult await(StepListener listener) {
                try {
                    return collect(solve, listener);
                } finally {
                    pending = null;
                }
            }
        };
    }

    /** Checks a solve may start and marks the end of the Gram form on the setup stream; waits for nothing. */
    private void readyToSolve() {
        ensureOpen();
        if (tasks == 0) {
            throw new IllegalStateException("tensor " + tensorName + ": no task vector was added");
        }
        ensureNotSolving();
        device.makeCurrent();
        if (!gramQueued) {
            copied.record(copy);                             // W_0 and every upload before the solve's first read
            setup.waitFor(copied);
            kTerms.copyToAsync(kHost, 8L * tasks, setup);    // read on the host with the result: no wait now
            gramReady.record(setup);
            gramQueued = true;
        }
    }

    private AdamRun start(AdamConfig config) {
        readyToSolve();
        DeviceMerge.Request merge = takeMergeRequest();
        try {
            return new AdamRun(backend, memory, new AdamRun.GramForm(sum, d, c, rows, cols, gramReady, this::kConstant),
                    config, merge);
        } catch (RuntimeException e) {
            releaseBase();
            throw e;
        }
    }

    /**
     * K = sum_i w_i ||tau_i^T tau_i||_F^2, in task order, in double, from the host's copy of the K terms: call once the
     * host knows the device is past {@link #gramReady}.
     */
    private double kConstant() {
        ByteBuffer terms = kHost.bytesView();
        double k = 0;
        for (int i = 0; i < tasks; i++) {
            if (weights[i] > 0) {
                k += weights[i] * terms.getDouble(8 * i);
            }
        }
        return k;
    }

    private void ensureSetupBuffers() {
        if (g == null) {
            g = memory.alloc(4 * cc, "G = tau_i^T tau_i", setup);
        }
        for (int s = 0; s < 2; s++) {
            if (upload[s] == null) {
                upload[s] = memory.alloc(4 * n, "task-vector upload slot " + s, copy);
            }
        }
    }

    /**
     * The merge request for the solve now starting (null if none), and gives back the setup buffers, W_0 too unless
     * the request needs it. (What the setup stream still reads of them is awaited by their next user: DevicePool.)
     */
    private DeviceMerge.Request takeMergeRequest() {
        DeviceMerge.Request r = mergeRequest;
        mergeRequest = null;
        merged = null;
        if (r == null) {
            releaseBase();
        }
        releaseScratch();
        return r;
    }

    private void releaseBase() {
        closeQuietly(base);
        base = null;
        baseType = null;
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

    /** Room for task {@code index}'s K term: twice the slots, copied on the setup stream, where more tasks come. */
    private void ensureTaskSlot(int index) {
        if (index >= weights.length) {
            weights = Arrays.copyOf(weights, weights.length * 2);
        }
        if (index >= kCapacity) {
            DeviceBuffer bigger = memory.alloc(8L * kCapacity * 2, "K terms", setup);
            bigger.copyFromAsync(kTerms, 8L * kCapacity, setup);
            kTerms.close();
            kTerms = bigger;
            kCapacity *= 2;
            backend.pinned().giveBack(kHost);               // nothing was copied into it yet: no solve has started
            kHost = backend.pinned().take(8L * kCapacity, "K terms");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("the problem of tensor " + tensorName + " is closed");
        }
    }

    private void ensureNotSolving() {
        if (pending != null) {
            throw new IllegalStateException("tensor " + tensorName + ": a solve is queued; await it first");
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
            pending.close();                 // waits for the queued solve
            pending = null;
        }
        if (gramQueued) {
            gramReady.synchronize("closing tensor " + tensorName);   // the K terms' copy into kHost has landed
        }
        giveBackAll();
    }

    /** Gives every buffer and event back to the backend's pools (their streams' pending work is awaited by the next user). */
    private void giveBackAll() {
        releaseBase();
        releaseScratch();
        closeQuietly(kTerms);
        kTerms = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            closeQuietly(owned.get(i));
        }
        owned.clear();
        backend.pinned().giveBack(kHost);
        kHost = null;
        EventPool events = backend.events();
        events.giveBack(gramReady);
        events.giveBack(copied);
        for (int s = 0; s < 2; s++) {
            events.giveBack(uploaded[s]);
            events.giveBack(consumed[s]);
        }
    }

    private static void closeQuietly(AutoCloseable r) {
        if (r != null) {
            try {
                r.close();
            } catch (Exception ignored) {
                // giving back is best effort once something already failed
            }
        }
    }
}
