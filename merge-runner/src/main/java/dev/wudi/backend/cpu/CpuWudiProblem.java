package dev.wudi.backend.cpu;

import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.solver.Adam;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.GramForm;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralSolver;
import java.nio.FloatBuffer;
import java.util.Map;

/**
 * The WUDI problem of one weight on the CPU: task vectors go into a {@link GramForm}; each Adam step is
 * ONE sgemm P = tau_m C ([rows, cols] x [cols, cols]) followed by one fused pass (g = 2 (P - D), Adam's
 * update of m, v, tau_m, and the loss at the step's start L = &lt;P - 2D, tau_m&gt; + K accumulated in
 * double on the side; it costs one multiply-add per element of a memory-bound pass, so it is always
 * computed). The pass runs on the backend's threads, one block of rows each.
 */
final class CpuWudiProblem implements WudiProblem {

    private final String tensorName;
    private final int rows;
    private final int cols;
    private final RowParallel parallel;
    private GramForm gram;

    CpuWudiProblem(String tensorName, int rows, int cols, RowParallel parallel) {
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
        this.parallel = parallel;
        this.gram = new GramForm(rows, cols);
    }

    @Override
    public void addTaskVector(float[] tau) {
        checkOpen();
        try {
            gram.add(tau);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("tensor " + tensorName + ": " + ex.getMessage(), ex);
        }
    }

    @Override
    public int taskCount() {
        checkOpen();
        return gram.taskCount();
    }

    /** Task vectors that were exactly zero and got weight 0 (see {@link GramForm}). */
    public int zeroTaskCount() {
        checkOpen();
        return gram.zeroTaskCount();
    }

    @Override
    public WudiResult solveAdam(AdamConfig config, StepListener listener) {
        checkOpen();
        if (gram.taskCount() == 0) {
            throw new IllegalStateException("tensor " + tensorName + ": solveAdam called before any task vector was added");
        }
        int n = rows * cols;
        NativeFloats c = gram.c();
        FloatBuffer d = gram.d().buffer();
        double k = gram.k();
        try (NativeFloats tau = new NativeFloats(n);
             NativeFloats p = new NativeFloats(n);
             NativeFloats m = new NativeFloats(n);
             NativeFloats v = new NativeFloats(n)) {
            tau.copyFrom(gram.sum());                                   // tau_m starts at sum_i tau_i
            FloatBuffer tb = tau.buffer();
            FloatBuffer pb = p.buffer();
            FloatBuffer mb = m.buffer();
            FloatBuffer vb = v.buffer();
            double lossBefore = Double.NaN;
            for (int t = 1; t <= config.iterations(); t++) {
                Blas.sgemm(false, false, rows, cols, cols, 1.0f, tau, c, 0.0f, p);   // P = tau_m C
                Adam.StepScalars s = Adam.scalars(config, t);
                double loss = k + parallel.run(rows, cols,
                        (from, to) -> Adam.stepGramForm(s, pb, d, mb, vb, tb, from, to));
                if (t == 1) {
                    lossBefore = loss;
                }
                if (listener != null) {
                    listener.afterStep(t, loss);
                }
            }
            Blas.sgemm(false, false, rows, cols, cols, 1.0f, tau, c, 0.0f, p);       // one more GEMM for L(final)
            double lossAfter = k + parallel.run(rows, cols, (from, to) -> {
                double acc = 0.0;
                for (int i = from; i < to; i++) {
                    acc += ((double) pb.get(i) - 2.0 * d.get(i)) * tb.get(i);
                }
                return acc;
            });
            if (config.iterations() == 0) {
                lossBefore = lossAfter;
            }
            return new WudiResult(tau.toArray(), lossBefore, lossAfter, config.iterations());
        }
    }

    /**
     * Adam as {@link #solveAdam}; exact, flow and spectral through one LAPACK eigendecomposition of C
     * ({@link SpectralSolver}) on a heap copy of the Gram form.
     */
    @Override
    public WudiResult solve(SolverSpec spec, StepListener listener) {
        if (spec instanceof SolverSpec.Adam adam) {
            return solveAdam(adam.config(), listener);
        }
        checkOpen();
        if (gram.taskCount() == 0) {
            throw new IllegalStateException("tensor " + tensorName + ": solve called before any task vector was added");
        }
        SpectralSolver.Solution s = new SpectralSolver(new LapackEigen()).solve(gramMatrices(), spec);
        return new WudiResult(s.tau(), s.lossBefore(), s.lossAfter(), 0, Map.of(
                "filter_param", s.param(), "rank_used", (double) s.used(), "eigen_seconds", s.eigenSeconds()));
    }

    /** A heap copy of C, D, tau0 and K, as the spectral solvers read them. */
    public GramMatrices gramMatrices() {
        checkOpen();
        return new GramMatrices(rows, cols, gram.c().toArray(), gram.d().toArray(), gram.sum().toArray(), gram.k());
    }

    private void checkOpen() {
        if (gram == null) {
            throw new IllegalStateException("tensor " + tensorName + ": problem used after close()");
        }
    }

    @Override
    public void close() {
        if (gram != null) {
            gram.close();
            gram = null;
        }
    }
}
