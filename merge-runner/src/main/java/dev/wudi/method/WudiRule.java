package dev.wudi.method;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.DeviceMemoryException;
import dev.wudi.backend.Placement;
import dev.wudi.backend.WudiProblem;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.model.Layout;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * WUDI-Merging for one linear weight [out, in] (specification 2): the task vectors tau_i = W_i - W_0 are
 * folded one at a time into the backend's Gram form, the solver runs (Adam from their sum by default, or
 * one of the spectral solvers), and the merged weight is W_0 + tau_m (no scaling coefficient). The job's
 * {@link Layout} says where the paper's [out, in] matrices lie: a Conv1D weight stored [in, out] is transposed
 * on the way in and back on the way out (the result equals optimising the transposed checkpoint, bit for bit);
 * a stack of experts [E, out, in] is E independent problems, solved one after another so that memory holds one
 * expert; a convolution [out, in, k, k] is [out, in*k*k]. Under --lr auto, Adam's lr is decided per matrix from
 * its task-vector RMS (measured while the task vectors stream in).
 *
 * <p>A model whose task vector is exactly zero in a matrix (a LoRA fine-tune that never touched the layer)
 * would have weight 1/||tau_i||^2 = infinity: the backends give it weight 0, which leaves it out of the loss, and
 * the outcome names it. Where every task vector of a matrix is zero, tau_m = 0 is the answer of every solver
 * (Adam's gradient and moments stay zero), so nothing is solved.
 *
 * What the backend can do is read from its {@link Backend#capabilities()}: on a backend that solves asynchronously
 * (the GPU), the next WUDI tensor's task vectors are read and uploaded while this tensor's solve runs
 * ({@link #upcoming}); backends that form task vectors themselves get the raw checkpoint bytes, so 16-bit checkpoints
 * cross PCIe at 2 bytes per element; backends that then hold W_0 form W_0 + tau_m themselves and hand back the output
 * bytes already encoded, so a 16-bit output comes back at 2 bytes per element too. Where a matrix runs when not here
 * is the {@link Placement}'s decision: a matrix that does not fit the device goes to the CPU with one warning, and the
 * solve on LoRA factors ({@link FactoredWudi}) runs where the placement says (the CPU beside a backend that does not
 * offer it).
 */
public final class WudiRule implements TensorRule, AutoCloseable {

    private final Backend backend;
    private final Placement placement;
    private final SolverSpec solver;
    private final AutoLr autoLr;
    private final StepListener listener;
    private final Consumer<String> warnings;

    /** The next tensor's problem, loaded while the current one solves (async backends only). */
    private Loaded prepared;
    private TensorJob upcoming;
    private final Set<String> told = new HashSet<>();   // the placement's notes that hold for every tensor, said once

    /**
     * A problem with all its task vectors added, W_0 widened to float32 for the output (null where the backend
     * was given the raw bytes: read again only if the host forms the output), the RMS of the task vectors (NaN where
     * the backend formed them itself), their sum where the host formed them for the default merge or Adam (else null),
     * the input width, and whether every task vector is zero (taken at load: the problem may be closed before use).
     */
    private record Loaded(TensorJob job, WudiProblem problem, float[] w0, double taskVectorRms, List<Integer> zeros,
                          float[] taskSum, int cols, boolean allZero) {
    }

    /**
     * @param backend   where the matrices run (one device)
     * @param placement where they run instead when not there: a matrix the device cannot hold, a solve it does not
     *                  offer
     * @param solver    Adam (the paper's) or a spectral solver
     * @param autoLr    null: Adam's lr as configured; else decided per tensor (only read when the solver is Adam)
     * @param listener  told of each step; may be null
     * @param warnings  receives one line per matrix moved to the CPU, and each other note of the placement once
     * @param scale     the merged weight is W_0 + scale * tau_m (1: the paper's, no rescaling; published merges of
     *                  language models use 0.3-0.5); the reported losses are those of tau_m itself
     */
    public WudiRule(Backend backend, Placement placement, SolverSpec solver, AutoLr autoLr,
                    StepListener listener, Consumer<String> warnings, double scale) {
        this(backend, placement, solver, autoLr, listener, warnings, scale, false);
    }

    /**
     * @param scaleAuto the coefficient decided per matrix by {@link CoverageRule} (--scale auto, the default merge's):
     *                  {@code scale} x tau_m, or the mean task vector where the task vectors span a sliver of the input
     *                  space; the solver must report C's rank ("rank_used": the spectral solvers)
     */
    public WudiRule(Backend backend, Placement placement, SolverSpec solver, AutoLr autoLr,
                    StepListener listener, Consumer<String> warnings, double scale, boolean scaleAuto) {
        this.scaleAuto = scaleAuto;
        this.backend = backend;
        this.placement = Objects.requireNonNull(placement, "placement");
        this.solver = solver;
        this.autoLr = autoLr;
        this.listener = listener;
        this.warnings = warnings;
        this.scale = (float) scale;
        this.factored = new FactoredWudi(backend, this.placement, solver, this.scale, scaleAuto, this::noteOnce);
    }

    /** Says a placement's note the first time only (it holds for every tensor). */
    private void noteOnce(String note) {
        if (note != null && told.add(note)) {
            warnings.accept(note);
        }
    }

    private final float scale;
    private final boolean scaleAuto;
    private final FactoredWudi factored;

    /** Whether the task vectors pass through the host: for --lr auto's RMS, for --scale auto's mean task vector. */
    private boolean viaHost() {
        return autoLr != null || scaleAuto;
    }

    @Override
    public String label() {
        return "wudi";
    }

    /** The WUDI tensor that will follow the next {@link #apply}, or null: lets its uploads overlap. */
    public void upcoming(TensorJob next) {
        this.upcoming = next;
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
        Layout.Matrices m = checkShape(job);
        if (!job.models().isEmpty() && job.models().stream().allMatch(r -> r == job.base())) {
            return untouched(job, sink);
        }
        if (!(solver instanceof SolverSpec.Adam) && m.count() == 1) {
            FactoredWudi.Factors low = FactoredWudi.factorsOf(job, m);
            if (low != null) {
                close(takePrepared(null));
                return factored.apply(job, sink, m, low);
            }
        }
        if (m.count() == 1 && !m.transposed()) {
            return applyOne(job, sink, m);
        }
        return applyEach(job, sink, m);
    }

    /**
     * Several matrices (experts) or a transposed one: each matrix is loaded on the host (turned into [out, in]
     * where stored transposed), solved, turned back and written before the next is read.
     */
    private TensorOutcome applyEach(TensorJob job, TensorSink sink, Layout.Matrices m) throws IOException {
        close(takePrepared(null));
        int rows = Math.toIntExact(m.rows());
        int cols = Math.toIntExact(m.cols());
        long[] stored = m.transposed() ? new long[] {cols, rows} : new long[] {rows, cols};
        double before = 0;
        double after = 0;
        Map<String, Double> sums = new LinkedHashMap<>();
        boolean[] zeroSomewhere = new boolean[job.models().size()];
        float[] out = m.transposed() ? new float[rows * cols] : null;
        Backend on = backend;                               // the CPU, once a matrix did not fit
        for (long e = 0; e < m.count(); e++) {
            long first = e * m.size();
            List<TensorRef> parts = new ArrayList<>();
            for (TensorRef r : job.models()) {
                parts.add(r.slice(first, stored));
            }
            TensorJob part = job.with(job.base().slice(first, stored), parts, Layout.OUT_IN);
            Loaded l = null;
            WudiResult result;
            Map<String, Double> details = new LinkedHashMap<>();
            try {
                try {
                    l = load(on, part, rows, cols, m.transposed(), viaHost(), false);
                    result = solve(l, details);
                } catch (DeviceMemoryException ex) {
                    close(l);
                    l = null;
                    on = movedAfter(ex);
                    l = load(on, part, rows, cols, m.transposed(), viaHost(), false);
                    result = solve(l, details);
                }
                l.zeros().forEach(i -> zeroSomewhere[i] = true);
            } finally {
                close(l);
            }
            float[] merged = add(result, l, part, details);
            if (out != null) {
                Transpose.of(merged, rows, cols, out);      // back to the stored [in, out]
                merged = out;
            }
            sink.writeFloats(merged, 0, rows * cols);
            before += result.lossBefore();
            after += result.lossAfter();
            details.putAll(result.details());
            details.forEach((k, v) -> sums.merge(k, v, Double::sum));
        }
        Double zeroMatrices = sums.remove("all_task_vectors_zero");
        Map<String, Double> details = new LinkedHashMap<>();
        sums.forEach((k, v) -> details.put(k, k.endsWith("_seconds") ? v : v / m.count()));  // per-matrix means
        if (zeroMatrices != null) {
            details.put(zeroMatrices == m.count() ? "all_task_vectors_zero" : "matrices_with_all_task_vectors_zero",
                    zeroMatrices == m.count() ? 1.0 : zeroMatrices);
        }
        if (m.count() > 1) {
            details.put("matrices", (double) m.count());
        }
        List<Integer> zeros = new ArrayList<>();
        for (int i = 0; i < zeroSomewhere.length; i++) {
            if (zeroSomewhere[i]) {
                zeros.add(i);
            }
        }
        return new TensorOutcome(before, after, details, zeros);
    }

    /** One [out, in] matrix as stored: the raw-bytes path, the overlapped uploads and the on-device merge apply. */
    private TensorOutcome applyOne(TensorJob job, TensorSink sink, Layout.Matrices m) throws IOException {
        Loaded current = takePrepared(job);
        WudiResult result;
        ByteBuffer encoded = null;
        Map<String, Double> details = new LinkedHashMap<>();
        List<Integer> zeros;
        try {
            if (current == null) {
                current = load(backend, job, Math.toIntExact(m.rows()), Math.toIntExact(m.cols()), false,
                        viaHost(), false);
            }
            zeros = current.zeros();
            Set<Capability> can = backend.capabilities();
            boolean onDevice = can.contains(Capability.MERGED_OUTPUT) && scale == 1f && !current.allZero()
                    && current.problem().mergeOnDevice(job.outDType());
            if (!current.allZero() && solverFor(current, details) instanceof SolverSpec.Adam adam
                    && can.contains(Capability.ASYNCHRONOUS) && upcoming != null) {
                WudiProblem.Pending pending = current.problem().solveAdamAsync(adam.config());
                prepareUpcoming();                       // reads and uploads overlap the queued solve
                result = pending.await(listener);        // progress and interruptions every few steps
            } else {
                result = solve(current, details);
            }
            if (onDevice) {
                encoded = current.problem().mergedWeights();   // W_0 + tau_m, already in the output dtype
            }
        } catch (DeviceMemoryException e) {
            close(current);
            current = null;
            return applyOnFallback(job, sink, e, m);
        } finally {
            close(current);
        }
        details.putAll(result.details());
        if (encoded != null) {
            sink.writeRaw(encoded);
            return new TensorOutcome(result.lossBefore(), result.lossAfter(), details, zeros);
        }
        float[] merged = add(result, current, job, details);
        sink.writeFloats(merged, 0, merged.length);
        return new TensorOutcome(result.lossBefore(), result.lossAfter(), details, zeros);
    }

    /**
     * A weight no model changes by construction (adapters that do not adapt it): every task vector is zero, tau_m = 0
     * for every solver, and W_0 is written without reading it n more times.
     */
    private TensorOutcome untouched(TensorJob job, TensorSink sink) throws IOException {
        close(takePrepared(null));
        TensorCopy.floats(job.base(), sink);
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < job.models().size(); i++) {
            all.add(i);
        }
        return new TensorOutcome(0.0, 0.0, Map.of("all_task_vectors_zero", 1.0), all);
    }

    /** Solves a loaded problem; every task vector zero: tau_m = 0, what every solver would return. */
    private WudiResult solve(Loaded l, Map<String, Double> details) {
        if (l.allZero()) {
            details.put("all_task_vectors_zero", 1.0);
            return new WudiResult(new float[Math.toIntExact(l.job().numel())], 0.0, 0.0, 0);
        }
        return l.problem().solve(solverFor(l, details), listener);
    }

    /** The solver for this matrix: under --lr auto, Adam with lr = factor x the task-vector RMS. */
    private SolverSpec solverFor(Loaded l, Map<String, Double> details) {
        SolverSpec spec = solver;
        if (autoLr != null && solver instanceof SolverSpec.Adam adam) {
            spec = new SolverSpec.Adam(adam.config().withLr(autoLr.lrFor(l.taskVectorRms())));
            details.put("task_vector_rms", l.taskVectorRms());
        }
        if (spec instanceof SolverSpec.Adam adam) {
            // the float lr as its shortest decimal (1e-5, not the widened 9.999999747378752e-06)
            details.put("lr", Double.parseDouble(Float.toString(adam.config().lr())));
        }
        return spec;
    }

    /** The problem prepared for this job (null: none, or prepared for another tensor, which is freed). */
    private Loaded takePrepared(TensorJob job) {
        Loaded p = prepared;
        prepared = null;
        if (p != null && (job == null || !p.job().name().equals(job.name()))) {
            close(p);                                    // the plan changed under us: load afresh
            return null;
        }
        return p;
    }

    /** Loads the upcoming tensor while this one solves, where it is one matrix as stored (else it waits its turn). */
    private void prepareUpcoming() throws IOException {
        TensorJob next = upcoming;
        upcoming = null;
        if (next == null || next.models().stream().allMatch(r -> r == next.base())) {
            return;                                      // nothing to load: no model changes it (untouched)
        }
        try {
            Layout.Matrices m = checkShape(next);
            if (m.count() == 1 && !m.transposed()) {
                prepared = load(backend, next, Math.toIntExact(m.rows()), Math.toIntExact(m.cols()), false,
                        viaHost(), false);
            }
        } catch (DeviceMemoryException | IllegalArgumentException e) {
            prepared = null;                             // met again, and reported, when its turn comes
        }
    }

    /** Where a matrix goes that did not fit this device (the CPU), with its one warning. */
    private Backend movedAfter(DeviceMemoryException why) {
        Placement.Placed moved = placement.afterDeviceMemory(why);
        warnings.accept(moved.note());
        return moved.backend();
    }

    private TensorOutcome applyOnFallback(TensorJob job, TensorSink sink, DeviceMemoryException why,
                                          Layout.Matrices m) throws IOException {
        Backend cpu = movedAfter(why);
        Loaded l = load(cpu, job, Math.toIntExact(m.rows()), Math.toIntExact(m.cols()), false, viaHost(), true);
        WudiResult result;
        Map<String, Double> details = new LinkedHashMap<>();
        try {
            result = solve(l, details);
        } finally {
            close(l);
        }
        details.putAll(result.details());
        float[] merged = add(result, l, job, details);
        sink.writeFloats(merged, 0, merged.length);
        return new TensorOutcome(result.lossBefore(), result.lossAfter(), details, l.zeros());
    }

    /**
     * Reads W_0 and every W_i of the job and folds the task vectors into a new problem of the paper's
     * [rows = out, cols = in] matrix.
     *
     * @param transposed the job's tensors are stored [cols, rows] (Conv1D): turned on the host first
     * @param needRms    the task vectors' RMS is needed (--lr auto): form them on the host
     * @param hostOnly   form the task vectors on the host even where the backend could from raw bytes
     */
    private Loaded load(Backend on, TensorJob job, int rows, int cols, boolean transposed, boolean needRms,
                               boolean hostOnly) throws IOException {
        int count = Math.toIntExact(job.numel());
        WudiProblem problem = on.newProblem(job.name(), rows, cols);
        problem.expect(solver, job.models().size()); // e.g. the CPU's exact solver accumulates in double
        float[] w0 = null;
        List<Integer> zeros = new ArrayList<>();
        try {
            double sumSquares = 0;
            float[] taskSum = null;
            if (on.capabilities().contains(Capability.TASK_VECTORS_FROM_CHECKPOINT) && sameDType(job) && !needRms
                    && !transposed && !hostOnly && storedOnly(job)) {
                problem.setBase(rawBytes(job.base()), job.info().dtype());
                for (int i = 0; i < job.models().size(); i++) {
                    int zeroBefore = problem.zeroTaskCount();
                    problem.addFineTuned(rawBytes(job.models().get(i)));   // tau_i = W_i - W_0 formed by the backend
                    if (problem.zeroTaskCount() > zeroBefore) {
                        zeros.add(i);
                    }
                }
            } else {
                w0 = readPaperOrientation(job.base(), rows, cols, transposed);
                float[] tau = new float[count];
                float[] stored = transposed ? new float[count] : null;
                // the sum of the task vectors: the default merge's mean, and Adam's start to measure how far it went
                taskSum = scaleAuto || solver instanceof SolverSpec.Adam ? new float[count] : null;
                // the inputs' rounding, which only the solvers in double read (ExactMinimiser: exact without a ridge,
                // a filter whose knee nears float32's zero): not measured on Adam's path, where it would be one more
                // pass over every weight for nothing
                boolean needNoise = dev.wudi.solver.spectral.ExactMinimiser.needsDouble(solver, cols,
                        job.models().size());
                double w0Rms = 0;
                if (needNoise) {
                    double w0Squares = 0;
                    for (float x : w0) {
                        w0Squares += (double) x * x;
                    }
                    w0Rms = Math.sqrt(w0Squares / count);
                }
                double u0 = job.base().info().dtype().unitRoundoff();
                for (int i = 0; i < job.models().size(); i++) {
                    TensorRef delta = job.models().get(i).deltaOver(job.base());
                    double noise = Double.NaN;       // the rounding the inputs carry, per element (WudiProblem)
                    if (delta != null) {
                        readPaperOrientation(delta, rows, cols, transposed, stored, tau);  // tau_i = scaling B A
                        for (int j = 0; j < count; j++) {
                            sumSquares += (double) tau[j] * tau[j];
                        }
                        // exact factors: only the float32 rounding of tau itself, the problem's default (NaN)
                    } else {
                        readPaperOrientation(job.models().get(i), rows, cols, transposed, stored, tau);
                        double wiSquares = 0;
                        for (int j = 0; j < count; j++) {
                            if (needNoise) {
                                wiSquares += (double) tau[j] * tau[j];
                            }
                            tau[j] -= w0[j];             // tau_i = W_i - W_0 in float32
                            sumSquares += (double) tau[j] * tau[j];
                        }
                        if (needNoise) {
                            double ui = job.models().get(i).info().dtype().unitRoundoff();
                            noise = ui * Math.sqrt(wiSquares / count) + u0 * w0Rms;   // W_i and W_0 as stored
                        }
                    }
                    if (taskSum != null) {
                        for (int j = 0; j < count; j++) {
                            taskSum[j] += tau[j];
                        }
                    }
                    int zeroBefore = problem.zeroTaskCount();
                    problem.addTaskVector(tau, noise);
                    if (problem.zeroTaskCount() > zeroBefore) {
                        zeros.add(i);
                    }
                }
            }
            double rms = Math.sqrt(sumSquares / ((double) count * job.models().size()));
            // whether every task vector is zero, taken now: the problem may be closed before the output is formed
            boolean allZero = problem.taskCount() > 0 && problem.zeroTaskCount() == problem.taskCount();
            return new Loaded(job, problem, w0, needRms ? rms : Double.NaN, zeros, taskSum, cols, allZero);
        } catch (IOException | RuntimeException e) {
            problem.close();
            throw e;
        }
    }

    /** Reads a matrix as the paper's [rows, cols] into a new array. */
    static float[] readPaperOrientation(TensorRef t, int rows, int cols, boolean transposed) throws IOException {
        float[] out = new float[rows * cols];
        readPaperOrientation(t, rows, cols, transposed, transposed ? new float[rows * cols] : null, out);
        return out;
    }

    /** Reads a matrix into out as [rows, cols]; stored transposed, through scratch. */
    static void readPaperOrientation(TensorRef t, int rows, int cols, boolean transposed, float[] scratch,
                                             float[] out) throws IOException {
        if (transposed) {
            t.readAll(scratch);                          // stored [cols, rows] = [in, out]
            Transpose.of(scratch, cols, rows, out);
        } else {
            t.readAll(out);
        }
    }

    /** No model is a LoRA delta: those are read exactly on the host, not as W_i - W_0 on the device. */
    private static boolean storedOnly(TensorJob job) {
        return job.models().stream().allMatch(m -> m.deltaOver(job.base()) == null);
    }

    private static boolean sameDType(TensorJob job) {
        DType d = job.info().dtype();
        return job.models().stream().allMatch(m -> m.info().dtype() == d);
    }

    private static ByteBuffer rawBytes(TensorRef t) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.info().byteSize()));
        t.readBytes(0, b);
        b.flip();
        return b;
    }

    /**
     * W = W_0 + s tau_m in the paper's orientation (W_0 read again, as stored, where the backend was given raw
     * bytes: then the matrix is not transposed), in place of tau_m.
     */
    private float[] add(WudiResult result, Loaded l, TensorJob job, Map<String, Double> details) throws IOException {
        float[] w0 = l.w0();
        Double rank = result.details().get("rank_used");
        // every task vector zero: tau_m = 0 from every solver, and W = W_0 below whatever the coefficient
        if (scaleAuto && l.taskSum() != null && !l.allZero()) {
            if (rank == null) {
                throw new IllegalStateException("--scale auto needs C's rank, which the " + solver.name()
                        + " solver does not report");
            }
            return CoverageRule.merged(w0, result.tauM(), l.taskSum(), l.job().models().size(), rank, l.cols(), scale,
                    details);
        }
        int changed = l.job().models().size() - l.zeros().size();
        if (l.taskSum() != null && solver instanceof SolverSpec.Adam) {
            HarmSignals.adam(result.tauM(), l.taskSum(), result.lossBefore(), changed, details);
        } else if (!scaleAuto && rank != null) {
            HarmSignals.coverage(rank, l.cols(), changed, details);
        }
        if (w0 == null) {
            w0 = new float[(int) job.numel()];
            job.base().readAll(w0);
        }
        float[] merged = result.tauM();
        if (merged.length != w0.length) {
            throw new IllegalStateException("tensor " + job.name() + ": the solver returned " + merged.length
                    + " values of tau_m for " + w0.length + " elements");
        }
        for (int j = 0; j < merged.length; j++) {
            merged[j] = w0[j] + scale * merged[j];      // W = W_0 + s tau_m (s = 1: exactly W_0 + tau_m)
        }
        return merged;
    }

    /** The job's matrices; refuses what is not a matrix or does not fit one Java array. */
    private static Layout.Matrices checkShape(TensorJob job) {
        long numel = job.numel();
        Layout layout = job.layout();
        if (numel == 0 || job.info().rank() < 2 || layout == Layout.VECTOR || !layout.fits(job.info().rank())) {
            throw new IllegalArgumentException("tensor " + job.name() + " " + job.info().shapeString()
                    + " is not a matrix of layout " + layout.label() + "; WUDI applies to weights of rank 2 or more");
        }
        Layout.Matrices m = layout.matrices(job.info().shape());
        if (m.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor " + job.name() + " " + job.info().shapeString()
                    + " has a matrix of more than 2^31 elements; exclude it from WUDI with --exclude");
        }
        return m;
    }

    private static void close(Loaded l) {
        if (l != null) {
            l.problem().close();
        }
    }

    /** Frees a problem prepared for a tensor that never came (an aborted merge); the placement owns the CPU. */
    @Override
    public void close() {
        close(prepared);
        prepared = null;
    }
}
