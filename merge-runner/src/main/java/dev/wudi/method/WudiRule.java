package dev.wudi.method;

import dev.wudi.backend.Backend;
import dev.wudi.backend.TensorTooLargeException;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.solver.AdamConfig;
import java.io.IOException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * WUDI-Merging for one linear weight [out, in] (SPEC section 2): the task vectors tau_i = W_i - W_0 are
 * widened to float32 and folded one at a time into the backend's Gram form, Adam runs from their sum,
 * and the merged weight is W_0 + tau_m (no scaling coefficient). A weight of rank > 2 (a convolution
 * [out, in, k, k]) is optimised as [out, in*k*k].
 */
public final class WudiRule implements TensorRule {

    private final Backend backend;
    private final Supplier<Backend> fallback;
    private final Consumer<String> warnings;
    private final AdamConfig adam;
    private final WudiProblem.StepListener listener;

    public WudiRule(Backend backend, AdamConfig adam, WudiProblem.StepListener listener) {
        this(backend, null, w -> { }, adam, listener);
    }

    /**
     * @param fallback where a tensor that does not fit the backend's memory (TensorTooLargeException) is
     *                 computed instead, usually the CPU backend; null to let the exception through
     * @param warnings told one line for each tensor that fell back
     */
    public WudiRule(Backend backend, Supplier<Backend> fallback, Consumer<String> warnings, AdamConfig adam,
                    WudiProblem.StepListener listener) {
        this.backend = backend;
        this.fallback = fallback;
        this.warnings = warnings;
        this.adam = adam;
        this.listener = listener;
    }

    @Override
    public String label() {
        return "wudi";
    }

    @Override
    public TensorOutcome apply(TensorJob job, TensorSink sink) throws IOException {
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
        int rows = Math.toIntExact(shape[0]);
        int cols = (int) (numel / rows);
        int count = (int) numel;
        float[] w0 = new float[count];
        job.base().readAll(w0);
        float[] tau = new float[count];
        WudiResult result;
        try {
            result = solve(backend, job, rows, cols, w0, tau);
        } catch (TensorTooLargeException e) {
            if (fallback == null) {
                throw e;
            }
            // nothing of this tensor was written yet, so computing it again elsewhere is clean
            Backend cpu = fallback.get();
            warnings.accept(e.getMessage() + "; computed on " + cpu.name() + " instead");
            result = solve(cpu, job, rows, cols, w0, tau);
        }
        float[] merged = result.tauM();
        for (int j = 0; j < count; j++) {
            merged[j] = w0[j] + merged[j]; // W = W_0 + tau_m
        }
        sink.writeFloats(merged, 0, count);
        return new TensorOutcome(result.lossBefore(), result.lossAfter());
    }

    private WudiResult solve(Backend on, TensorJob job, int rows, int cols, float[] w0, float[] tau)
            throws IOException {
        int count = w0.length;
        try (WudiProblem problem = on.newProblem(job.name(), rows, cols)) {
            for (TensorRef model : job.models()) {
                model.readAll(tau);
                for (int j = 0; j < count; j++) {
                    tau[j] -= w0[j]; // tau_i = W_i - W_0 in float32
                }
                problem.addTaskVector(tau);
            }
            return problem.solveAdam(adam, listener);
        }
    }
}
