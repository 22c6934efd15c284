package dev.wudi.method;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.checkpoint.TensorRef;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * WUDI-Merging for one linear weight [out, in] (SPEC section 2): the task vectors tau_i = W_i - W_0 are
 * widened to float32 and folded one at a time into the backend's Gram form, the solver runs (Adam from
 * their sum by default, or one of the spectral solvers), and the merged weight is W_0 + tau_m (no
 * scaling coefficient). A weight of rank &gt; 2 (a convolution [out, in, k, k]) is optimised as
 * [out, in*k*k]. Under --lr auto, Adam's lr is decided here per tensor from the task-vector RMS.
 */
public final class WudiRule implements TensorRule {

    private final Backend backend;
    private final SolverSpec solver;
    private final AutoLr autoLr;
    private final WudiProblem.StepListener listener;

    public WudiRule(Backend backend, AdamConfig adam, WudiProblem.StepListener listener) {
        this(backend, new SolverSpec.Adam(adam), null, listener);
    }

    /** @param autoLr null: Adam's lr as configured; else per tensor (only used when the solver is Adam) */
    public WudiRule(Backend backend, SolverSpec solver, AutoLr autoLr, WudiProblem.StepListener listener) {
        this.backend = backend;
        this.solver = solver;
        this.autoLr = autoLr;
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
        Map<String, Double> details = new LinkedHashMap<>();
        try (WudiProblem problem = backend.newProblem(job.name(), rows, cols)) {
            double sumSquares = 0;
            for (TensorRef model : job.models()) {
                model.readAll(tau);
                for (int j = 0; j < count; j++) {
                    tau[j] -= w0[j]; // tau_i = W_i - W_0 in float32
                    sumSquares += (double) tau[j] * tau[j];
                }
                problem.addTaskVector(tau);
            }
            SolverSpec spec = solver;
            if (autoLr != null && solver instanceof SolverSpec.Adam adam) {
                double rms = Math.sqrt(sumSquares / ((double) count * job.models().size()));
                float lr = autoLr.lrFor(rms);
                spec = new SolverSpec.Adam(adam.config().withLr(lr));
                details.put("task_vector_rms", rms);
            }
            if (spec instanceof SolverSpec.Adam adam) {
                details.put("lr", (double) adam.config().lr());
            }
            result = problem.solve(spec, listener);
        }
        details.putAll(result.details());
        float[] merged = result.tauM();
        for (int j = 0; j < count; j++) {
            merged[j] = w0[j] + merged[j]; // W = W_0 + tau_m
        }
        sink.writeFloats(merged, 0, count);
        return new TensorOutcome(result.lossBefore(), result.lossAfter(), details);
    }
}
