package dev.wudi.method;

import dev.wudi.backend.AsyncWudiProblem;
import dev.wudi.backend.Backend;
import dev.wudi.backend.CheckpointWudiProblem;
import dev.wudi.backend.MergedOutputProblem;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.backend.cuda.DeviceMemoryException;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * WUDI-Merging for one linear weight [out, in] (SPEC section 2): the task vectors tau_i = W_i - W_0 are
 * folded one at a time into the backend's Gram form, the solver runs (Adam from their sum by default, or
 * one of the spectral solvers), and the merged weight is W_0 + tau_m (no scaling coefficient). A weight of
 * rank &gt; 2 (a convolution [out, in, k, k]) is optimised as [out, in*k*k]. Under --lr auto, Adam's lr is
 * decided here per tensor from the task-vector RMS (measured while the task vectors stream in).
 *
 * On a backend that solves asynchronously (the GPU), the next WUDI tensor's task vectors are read and
 * uploaded while this tensor's solve runs ({@link #upcoming}). A tensor that does not fit the device is
 * merged on the fallback backend (the CPU) with one warning. Backends that form task vectors themselves
 * get the raw checkpoint bytes, so 16-bit checkpoints cross PCIe at 2 bytes per element; backends that then
 * hold W_0 form W_0 + tau_m themselves and hand back the output bytes already encoded
 * ({@link MergedOutputProblem}), so a 16-bit output comes back at 2 bytes per element too.
 */
public final class WudiRule implements TensorRule, AutoCloseable {

    private final Backend backend;
    private final Supplier<Backend> fallback;
    private final SolverSpec solver;
    private final AutoLr autoLr;
    private final WudiProblem.StepListener listener;
    private final Consumer<String> warnings;

    /** The next tensor's problem, loaded while the current one solves (async backends only). */
    private Loaded prepared;
    private TensorJob upcoming;
    private Backend fallbackBackend;

    /**
     * A problem with all its task vectors added, W_0 widened to float32 for the output (null where the backend
     * was given the raw bytes: read again only if the host forms the output), and the RMS of the task vectors
     * (NaN where the backend formed them itself).
     */
    private record Loaded(TensorJob job, WudiProblem problem, float[] w0, double taskVectorRms) {
    }

    public WudiRule(Backend backend, AdamConfig adam, WudiProblem.StepListener listener) {
        this(backend, null, adam, listener, w -> { });
    }

    public WudiRule(Backend backend, Supplier<Backend> fallback, AdamConfig adam, WudiProblem.StepListener listener,
                    Consumer<String> warnings) {
        this(backend, fallback, new SolverSpec.Adam(adam), null, listener, warnings);
    }

    /**
     * @param fallback the backend for tensors that do not fit this one (created on first use), or null
     * @param solver   Adam (the paper's) or a spectral solver
     * @param autoLr   null: Adam's lr as configured; else decided per tensor (only read when the solver is Adam)
     * @param warnings receives one line per tensor moved to the fallback
     */
    public WudiRule(Backend backend, Supplier<Backend> fallback, SolverSpec solver, AutoLr autoLr,
                    WudiProblem.StepListener listener, Consumer<String> warnings) {
        this.backend = backend;
        this.fallback = fallback;
        this.solver = solver;
        this.autoLr = autoLr;
        this.listener = listener;
        this.warnings = warnings;
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
        checkShape(job);
        Loaded current = takePrepared(job);
        WudiResult result;
        ByteBuffer encoded = null;
        Map<String, Double> details = new LinkedHashMap<>();
        try {
            if (current == null) {
                current = load(backend, job, autoLr != null);
            }
            SolverSpec spec = resolve(current, details);
            MergedOutputProblem onDevice = current.problem() instanceof MergedOutputProblem m
                    && m.mergeOnDevice(job.outDType()) ? m : null;
            if (spec instanceof SolverSpec.Adam adam && current.problem() instanceof AsyncWudiProblem async
                    && upcoming != null) {
                AsyncWudiProblem.Pending pending = async.solveAdamAsync(adam.config());
                prepareUpcoming();                       // reads and uploads overlap the queued solve
                result = pending.await();
            } else {
                result = current.problem().solve(spec, listener);
            }
            if (onDevice != null) {
                encoded = onDevice.mergedWeights();      // W_0 + tau_m, already in the output dtype
            }
        } catch (DeviceMemoryException e) {
            close(current);
            current = null;
            return applyOnFallback(job, sink, e);
        } finally {
            close(current);
        }
        if (encoded != null) {
            sink.writeRaw(encoded);
            details.putAll(result.details());
            return new TensorOutcome(result.lossBefore(), result.lossAfter(), details);
        }
        return write(result, current == null ? null : current.w0(), job, sink, details);
    }

    /** The solver for this tensor: under --lr auto, Adam with lr = factor x the task-vector RMS. */
    private SolverSpec resolve(Loaded l, Map<String, Double> details) {
        SolverSpec spec = solver;
        if (autoLr != null && solver instanceof SolverSpec.Adam adam) {
            spec = new SolverSpec.Adam(adam.config().withLr(autoLr.lrFor(l.taskVectorRms())));
            details.put("task_vector_rms", l.taskVectorRms());
        }
        if (spec instanceof SolverSpec.Adam adam) {
            details.put("lr", (double) adam.config().lr());
        }
        return spec;
    }

    private Loaded takePrepared(TensorJob job) {
        Loaded p = prepared;
        prepared = null;
        if (p != null && !p.job().name().equals(job.name())) {
            close(p);                                    // the plan changed under us: load afresh
            return null;
        }
        return p;
    }

    private void prepareUpcoming() throws IOException {
        TensorJob next = upcoming;
        upcoming = null;
        try {
            checkShape(next);
            prepared = load(backend, next, autoLr != null);
        } catch (DeviceMemoryException | IllegalArgumentException e) {
            prepared = null;                             // met again, and reported, when its turn comes
        }
    }

    private TensorOutcome applyOnFallback(TensorJob job, TensorSink sink, DeviceMemoryException why) throws IOException {
        if (fallback == null) {
            throw why;
        }
        warnings.accept(why.getMessage() + " -> merging it on the CPU");
        if (fallbackBackend == null) {
            fallbackBackend = fallback.get();
        }
        Loaded cpu = load(fallbackBackend, job, autoLr != null);
        WudiResult result;
        Map<String, Double> details = new LinkedHashMap<>();
        try {
            result = cpu.problem().solve(resolve(cpu, details), listener);
        } finally {
            close(cpu);
        }
        return write(result, cpu.w0(), job, sink, details);
    }

    /**
     * Reads W_0 and every W_i of the job and folds the task vectors into a new problem.
     *
     * @param needRms the task vectors' RMS is needed (--lr auto): form them on the host
     */
    private static Loaded load(Backend on, TensorJob job, boolean needRms) throws IOException {
        int count = (int) job.numel();
        long[] shape = job.info().shape();
        int rows = Math.toIntExact(shape[0]);
        int cols = count / rows;
        WudiProblem problem = on.newProblem(job.name(), rows, cols);
        float[] w0 = null;
        try {
            double sumSquares = 0;
            if (problem instanceof CheckpointWudiProblem raw && sameDType(job) && !needRms) {
                raw.setBase(rawBytes(job.base()), job.info().dtype());
                for (TensorRef model : job.models()) {
                    raw.addFineTuned(rawBytes(model));   // tau_i = W_i - W_0 formed by the backend
                }
            } else {
                w0 = new float[count];
                job.base().readAll(w0);
                float[] tau = new float[count];
                for (TensorRef model : job.models()) {
                    model.readAll(tau);
                    for (int j = 0; j < count; j++) {
                        tau[j] -= w0[j];                 // tau_i = W_i - W_0 in float32
                        sumSquares += (double) tau[j] * tau[j];
                    }
                    problem.addTaskVector(tau);
                }
            }
            double rms = Math.sqrt(sumSquares / ((double) count * job.models().size()));
            return new Loaded(job, problem, w0, needRms ? rms : Double.NaN);
        } catch (IOException | RuntimeException e) {
            problem.close();
            throw e;
        }
    }

    private static boolean sameDType(TensorJob job) {
        DType d = job.info().dtype();
        return job.models().stream().allMatch(m -> m.info().dtype() == d);
    }

    private static ByteBuffer rawBytes(TensorRef t) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(t.info().byteSize()));
        t.file().readBytes(t.info(), 0, b);
        b.flip();
        return b;
    }

    private static TensorOutcome write(WudiResult result, float[] w0, TensorJob job, TensorSink sink,
                                       Map<String, Double> details) throws IOException {
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
            merged[j] = w0[j] + merged[j];              // W = W_0 + tau_m
        }
        sink.writeFloats(merged, 0, merged.length);
        details.putAll(result.details());
        return new TensorOutcome(result.lossBefore(), result.lossAfter(), details);
    }

    private static void checkShape(TensorJob job) {
        long numel = job.numel();
        long[] shape = job.info().shape();
        if (shape.length < 2 || numel == 0) {
            throw new IllegalArgumentException("tensor " + job.name() + " " + job.info().shapeString()
                    + " is not a matrix; WUDI applies to weights of rank 2 or more");
        }
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor " + job.name() + " " + job.info().shapeString()
                    + " has more than 2^31 elements; exclude it from WUDI with --exclude");
        }
    }

    private static void close(Loaded l) {
        if (l != null) {
            l.problem().close();
        }
    }

    /** Frees a problem prepared for a tensor that never came (an aborted merge) and the fallback backend. */
    @Override
    public void close() {
        close(prepared);
        prepared = null;
        if (fallbackBackend != null) {
            fallbackBackend.close();
            fallbackBackend = null;
        }
    }
}
