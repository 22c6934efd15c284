package dev.wudi.api;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Backends;
import dev.wudi.backend.Placement;
import dev.wudi.checkpoint.ComputedTensor;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.format.DType;
import dev.wudi.format.TensorInfo;
import dev.wudi.method.TensorJob;
import dev.wudi.method.TensorOutcome;
import dev.wudi.method.TensorSink;
import dev.wudi.method.WudiRule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * WUDI on one layer at a time, for a tool with its own I/O (a training framework, a Python tool through a JVM
 * bridge): give the base weight and the fine-tuned weights (or the task vectors) as float arrays or buffers with a
 * shape and {@link WeightLayout}; get the merged weight and the interference loss before and after. Level 2 of the
 * library (level 1 is {@link CheckpointMerge}); the computation is the one `wudi merge` runs on each tensor, so a
 * layer merged here equals, bit for bit, that tensor of a whole-checkpoint merge on the same backend and solver.
 *
 * <pre>{@code
 * try (LayerMerge wudi = LayerMerge.open("cpu", Solver.adam())) {
 *     LayerResult r = wudi.merge("q_proj", w0, List.of(w1, w2, w3), new long[] {768, 768}, WeightLayout.OUT_IN);
 *     float[] merged = r.merged();
 * }
 * }</pre>
 *
 * <p>Resources: a LayerMerge holds a backend (CPU thread pool and native buffers, or a GPU context and device
 * memory) from open to {@link #close()}; close it. Threading: not thread-safe; one merge at a time per instance
 * (use one instance per thread). The arrays and buffers given are only read, during the call.
 */
public final class LayerMerge implements AutoCloseable {

    private final Backend device;              // the device asked for; closed here unless WUDI moved away from it
    private final Placement placement;
    private final Backend backend;             // where WUDI runs: the device, or the CPU the placement chose
    private final WudiRule rule;
    private final List<String> warnings = new ArrayList<>();
    private boolean closed;

    /** Why WUDI does not run (in full) on the device asked for: that warning, on every result. */
    private final String note;

    private LayerMerge(Backend device, Solver solver, int threads) {
        this.device = device;
        this.placement = new Placement(device, threads);
        Placement.Placed wudi = placement.forSolver(solver.spec());
        this.backend = wudi.backend();
        this.note = wudi.note();
        if (backend != device) {
            device.close();                            // the GPU's memory is not held for nothing
        }
        this.rule = new WudiRule(backend, placement, solver.spec(), null, null, warnings::add, 1.0);
    }

    /**
     * {@link #open(String, Solver, int)} on every core.
     *
     * @param device "cpu", "cuda", "cuda:N" or "auto"
     * @param solver how tau_m is found
     * @return an open LayerMerge; close it
     */
    public static LayerMerge open(String device, Solver solver) {
        return open(device, solver, 0);
    }

    /**
     * Opens a backend for merging layers. Where the solver runs is a checkpoint merge's decision
     * ({@link Placement#forSolver}): the exact solver without a ridge runs on the CPU whatever the device (it needs C
     * accumulated in double, which only the CPU backend forms); each result's warnings then say so.
     *
     * @param device  "cpu", "cuda", "cuda:N", or "auto" (the GPU when usable, else the CPU)
     * @param solver  how tau_m is found ({@link Solver#adam()} is the paper's)
     * @param threads CPU threads for the matrix products (0: every core)
     * @return an open LayerMerge; close it
     * @throws IllegalArgumentException for an unknown device name
     * @throws dev.wudi.backend.BackendUnavailableException when "cuda" was asked for and cannot be used (the reason)
     */
    public static LayerMerge open(String device, Solver solver, int threads) {
        Objects.requireNonNull(solver, "solver");
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        }
        return new LayerMerge(Backends.select(device, threads, false, line -> { }), solver, threads);
    }

    /**
     * The backend this instance runs on ("cpu", "cuda:0", ...).
     *
     * @return the backend's name
     */
    public String device() {
        return backend.name();
    }

    /**
     * Merges one layer: W = W_0 + tau_m, where tau_m minimises WUDI's interference loss over tau_i = W_i - W_0.
     *
     * @param name      the layer's name, for messages
     * @param base      W_0, row-major in {@code layout}, numel(shape) values
     * @param fineTuned W_1 .. W_n, each as base
     * @param shape     the stored shape (e.g. [out, in] for OUT_IN, [in, out] for IN_OUT)
     * @param layout how the shape's matrices lie
     * @return the merged weight in the given layout, and the losses
     * @throws IllegalArgumentException for a shape that is not a matrix of the layout, arrays of another length, no
     *                                  fine-tuned weight, or NaN / Inf in a task vector
     *
     */
    public LayerResult merge(String name, float[] base, List<float[]> fineTuned, long[] shape, WeightLayout layout) {
        List<FloatBuffer> models = new ArrayList<>();
        fineTuned.forEach(f -> models.add(FloatBuffer.wrap(f)));
        return merge(name, FloatBuffer.wrap(base), models, shape, layout);
    }

    /**
     * As {@link #merge(String, float[], List, long[], WeightLayout)} for buffers (heap or direct, any byte order):
     * each is read from its position to its limit, which must hold numel(shape) values; positions do not move.
     *
     * @param name the layer's name, for messages
     * @param base W_0
     * @param fineTuned W_1 .. W_n
     * @param shape the stored shape
     * @param layout how the shape's matrices lie
     * @return the merged weight in the given layout, and the losses
     */
    public LayerResult merge(String name, FloatBuffer base, List<FloatBuffer> fineTuned, long[] shape,
                             WeightLayout layout) {
        checkOpen();
        long numel = numel(name, shape);
        if (fineTuned.isEmpty()) {
            throw new IllegalArgumentException(name + ": no fine-tuned weight given");
        }
        TensorRef w0 = tensor(name, "base", base, shape, numel);
        List<TensorRef> models = new ArrayList<>();
        for (int i = 0; i < fineTuned.size(); i++) {
            models.add(tensor(name, "fine-tuned weight " + i, fineTuned.get(i), shape, numel));
        }
        return run(new TensorJob(name, w0, models, DType.F32, layout.layout()), numel);
    }

    /**
     * Merges task vectors directly: the result is tau_m itself (W_0 = 0), for a tool that holds task vectors
     * rather than weights.
     *
     * @param taskVectors tau_1 .. tau_n, row-major in {@code layout}
     * @param name the layer's name, for messages
     * @param shape the stored shape
     * @param layout how the shape's matrices lie
     * @return tau_m in the given layout, and the losses
     */
    public LayerResult mergeTaskVectors(String name, List<float[]> taskVectors, long[] shape, WeightLayout layout) {
        float[] zero = new float[Math.toIntExact(numel(name, shape))];
        return merge(name, zero, taskVectors, shape, layout);
    }

    private LayerResult run(TensorJob job, long numel) {
        warnings.clear();
        if (note != null) {
            warnings.add(note);
        }
        Collect out = new Collect(Math.toIntExact(numel));
        TensorOutcome o;
        try {
            o = rule.apply(job, out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);          // in-memory tensors: not expected
        }
        if (out.n != numel) {
            throw new IllegalStateException(job.name() + ": the solver wrote " + out.n + " of " + numel + " values");
        }
        return new LayerResult(out.values, o.lossBefore(), o.lossAfter(), o.details(), o.zeroTaskVectors(),
                List.copyOf(warnings));
    }

    private static long numel(String name, long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " has a dimension <= 0");
            }
            n = Math.multiplyExact(n, d);
        }
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(name + ": " + n + " elements do not fit one Java array");
        }
        return n;
    }

    private static TensorRef tensor(String name, String which, FloatBuffer data, long[] shape, long numel) {
        if (data.remaining() != numel) {
            throw new IllegalArgumentException(name + ": the " + which + " holds " + data.remaining()
                    + " values; shape " + Arrays.toString(shape) + " needs " + numel);
        }
        return TensorRef.computed(new InMemory(name, shape.clone(), data.slice()));
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("LayerMerge used after close()");
        }
    }

    /** Frees the backend's native and device memory. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            rule.close();
            placement.close();
            if (backend == device) {
                device.close();
            }
        }
    }

    /** A caller's buffer as a tensor the engine reads. */
    private record InMemory(String name, long[] shape, FloatBuffer data) implements ComputedTensor {

        @Override
        public TensorInfo info() {
            long n = data.capacity();
            return new TensorInfo(name, DType.F32, shape.clone(), 0, n * Float.BYTES);
        }

        @Override
        public Path path() {
            return Path.of("(memory)");
        }

        @Override
        public void readFloats(long first, float[] dst, int off, int count) {
            data.get(Math.toIntExact(first), dst, off, count);
        }
    }

    /** The rule's output, collected as float32. */
    private static final class Collect implements TensorSink {
        final float[] values;
        int n;

        Collect(int numel) {
            values = new float[numel];
        }

        @Override
        public void writeFloats(float[] src, int off, int count) {
            System.arraycopy(src, off, values, n, count);
            n += count;
        }

        @Override
        public void writeRaw(ByteBuffer bytes) {
            FloatBuffer f = bytes.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            int count = f.remaining();
            f.get(values, n, count);
            n += count;
        }
    }
}
