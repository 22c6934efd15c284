package dev.wudi.backend.cpu;

import dev.wudi.linalg.Blas;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.StepListener;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.Adam;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.GramForm;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.ExactMinimiser;
import dev.wudi.solver.spectral.GramMatrices;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.RidgeCholesky;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.solver.spectral.SpectralSolver;
import java.util.Map;

/**
 * The WUDI problem of one weight on the CPU: task vectors go into a {@link GramForm}; each Adam step is
 * ONE sgemm P = tau_m C ([rows, cols] x [cols, cols], OpenBLAS) followed by one fused element-wise pass
 * (g = 2 (P - D) and Adam's update of m, v, tau_m; {@link AdamPass}) on the backend's threads, one block
 * of rows each: native code where the jar has it ({@link NativeAdamPass}), else Java ({@link HeapAdamPass}).
 *
 * <p>The loss at a step's start, L = &lt;P - 2D, tau_m&gt; + K, is accumulated in double in the same pass
 * (while the chunk is in cache) but only at step 1 (for {@link WudiResult#lossBefore()}) and for a
 * listener that {@link StepListener#wantsLoss() wants it}: as a double reduction it does not vectorise and
 * costs more than the update itself (in Java, on one core, in cache: 0.68 ns per element against 0.46 ns
 * for the vectorised Adam update).
 */
final class CpuWudiProblem implements WudiProblem {

    private final String tensorName;
    private final int rows;
    private final int cols;
    private final RowParallel parallel;
    private final boolean nativePass;
    private GramForm gram;
    /** Instead of gram, for the exact solver without a ridge: C and D in double ({@link #expect}). */
    private ExactMinimiser exact;

    /** OpenBLAS's threads for this tensor's step products ({@link CpuBackend#stepThreads}). */
    private final int stepThreads;

    CpuWudiProblem(String tensorName, int rows, int cols, RowParallel parallel, boolean nativePass, int stepThreads) {
        this.stepThreads = stepThreads;
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
        this.parallel = parallel;
        this.nativePass = nativePass;
        this.gram = new GramForm(rows, cols);
    }

    /**
     * The exact solver without a ridge accumulates C and D in double ({@link ExactMinimiser}: it divides by C's small
     * eigenvalues, which float32 cannot resolve); every other solver reads the float32 Gram form.
     */
    @Override
    public void expect(SolverSpec spec) {
        expect(spec, 0);
    }

    /** C and D in double for the solvers that need them ({@link ExactMinimiser#needsDouble}). */
    @Override
    public void expect(SolverSpec spec, int tasks) {
        checkOpen();
        if (ExactMinimiser.needsDouble(spec, cols, tasks) && exact == null) {
            if (gram.taskCount() > 0) {
                throw new IllegalStateException("tensor " + tensorName + ": expect() after task vectors were added");
            }
            gram.close();
            gram = null;
            exact = new ExactMinimiser(rows, cols);
        }
    }

    @Override
    public void addTaskVector(float[] tau) {
        addTaskVector(tau, Double.NaN);
    }

    @Override
    public void addTaskVector(float[] tau, double elementNoise) {
        checkOpen();
        if (exact != null) {
            try {
                exact.add(tau, elementNoise);
            } catch (IllegalArgumentException ex) {
                throw new IllegalArgumentException("tensor " + tensorName + ": " + ex.getMessage(), ex);
            }
            return;
        }
        int threadsBefore = Blas.threads();
        Blas.setThreads(stepThreads);                    // its products are of the step's size
        try {
            gram.add(tau);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException("tensor " + tensorName + ": " + ex.getMessage(), ex);
        } finally {
            Blas.setThreads(threadsBefore);
        }
    }

    @Override
    public int taskCount() {
        checkOpen();
        return exact != null ? exact.taskCount() : gram.taskCount();
    }

    @Override
    public int zeroTaskCount() {
        checkOpen();
        return exact != null ? exact.zeroTaskCount() : gram.zeroTaskCount();
    }

    @Override
    public WudiResult solveAdam(AdamConfig config, StepListener listener) {
        checkOpen();
        if (exact != null) {
            throw new IllegalStateException("tensor " + tensorName + ": prepared for the exact solver, not Adam");
        }
        if (gram.taskCount() == 0) {
            throw new IllegalStateException("tensor " + tensorName
                    + ": solveAdam called before any task vector was added");
        }
        NativeFloats c = gram.c();
        double k = gram.k();
        boolean lossEveryStep = listener != null && listener.wantsLoss();
        int threadsBefore = Blas.threads();
        Blas.setThreads(stepThreads);
        try (AdamPass pass = nativePass ? new NativeAdamPass(gram, parallel) : new HeapAdamPass(gram, parallel)) {
            double lossBefore = Double.NaN;
            for (int t = 1; t <= config.iterations(); t++) {
                Blas.sgemm(false, false, rows, cols, cols, 1.0f, pass.tau(), c, 0.0f, pass.p());   // P = tau_m C
                boolean withLoss = t == 1 || lossEveryStep;
                double lossTerms = pass.step(Adam.scalars(config, t), withLoss);
                double loss = withLoss ? lossTerms + k : Double.NaN;              // L = <P - 2D, tau_m> + K
                if (t == 1) {
                    lossBefore = loss;
                }
                if (listener != null) {
                    listener.afterStep(t, loss);
                }
            }
            Blas.sgemm(false, false, rows, cols, cols, 1.0f, pass.tau(), c, 0.0f, pass.p());       // L at the end
            double lossAfter = k + pass.lossTerms();
            if (config.iterations() == 0) {
                lossBefore = lossAfter;
            }
            return new WudiResult(pass.tauArray(), lossBefore, lossAfter, config.iterations());
        } finally {
            Blas.setThreads(threadsBefore);
        }
    }

    /**
     * Adam as {@link #solveAdam}; the exact solver in double ({@link ExactMinimiser}) or, with a ridge, by Cholesky
     * ({@link RidgeCholesky}); flow and spectral by a float32 eigendecomposition of C in place, of the eigenvectors
     * the filter uses only ({@link SpectralSolver#solveInPlace}), after which this problem's C is spent: one solve
     * per problem.
     */
    @Override
    public WudiResult solve(SolverSpec spec, StepListener listener) {
        if (spec instanceof SolverSpec.Adam adam) {
            return solveAdam(adam.config(), listener);
        }
        checkOpen();
        if (taskCount() == 0) {
            throw new IllegalStateException("tensor " + tensorName + ": solve called before any task vector was added");
        }
        if (exact != null) {
            SpectralFilter filter = SpectralSolver.filterOf(spec);
            ExactMinimiser.Solution s = exact.solve(filter);
            return new WudiResult(s.tau(), s.lossBefore(), s.lossAfter(), 0, Map.of("filter_param",
                    Double.isNaN(filter.param()) ? 0.0 : filter.param(), "rank_used", (double) s.rankUsed(),
                    "eigen_seconds", s.eigenSeconds(), "in_double", 1.0));
        }
        if (spec instanceof SolverSpec.Exact e && e.ridge() > 0) {
            float[] c = gram.c().toArray();
            double trace = 0;
            for (int i = 0; i < cols; i++) {
                trace += c[i * cols + i];
            }
            RidgeCholesky.Solution s = RidgeCholesky.solve(c, gram.d().toArray(), rows, cols, e.ridge(), trace);
            c = null;
            if (s.tau() != null) {
                return new WudiResult(s.tau(), gram.loss(gram.sum().toArray()), gram.loss(s.tau()), 0,
                        Map.of("filter_param", e.ridge(), "cholesky_seconds", s.seconds()));
            }
            // not positive definite to working precision: the eigendecomposition handles it
        }
        SpectralFilter filter = SpectralSolver.filterOf(spec);
        SpectralSolver.Solution s = SpectralSolver.inPlaceServes(filter) ? SpectralSolver.solveInPlace(gram, filter)
                : new SpectralSolver(new LapackEigen()).solve(gramMatrices(), filter);
        return new WudiResult(s.tau(), s.lossBefore(), s.lossAfter(), 0, Map.of(
                "filter_param", s.param(), "rank_used", (double) s.used(), "eigen_seconds", s.eigenSeconds()));
    }

    /** A heap copy of C, D, tau0 and K, as the spectral solvers read them. */
    public GramMatrices gramMatrices() {
        checkOpen();
        if (gram == null) {
            throw new IllegalStateException("tensor " + tensorName + ": prepared for the exact solver in double; there"
                    + " is no float32 Gram form");
        }
        return new GramMatrices(rows, cols, gram.c().toArray(), gram.d().toArray(), gram.sum().toArray(), gram.k());
    }

    private void checkOpen() {
        if (gram == null && exact == null) {
            throw new IllegalStateException("tensor " + tensorName + ": problem used after close()");
        }
    }

    @Override
    public void close() {
        if (gram != null) {
            gram.close();
            gram = null;
        }
        if (exact != null) {
            exact.close();
            exact = null;
        }
    }
}
