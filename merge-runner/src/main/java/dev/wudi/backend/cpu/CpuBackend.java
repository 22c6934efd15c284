package dev.wudi.backend.cpu;

import dev.wudi.linalg.Blas;
import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.WudiProblem;
import dev.wudi.cpu.CpuAdamKernel;
import dev.wudi.lora.LowRankWudi;
import dev.wudi.solver.spectral.SpectralFilter;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The reference backend: OpenBLAS for the matrix products, and the fused element-wise Adam pass on the
 * backend's threads, in native code where the jar has it ({@link CpuAdamKernel}) and in Java otherwise
 * (same bits). OpenBLAS's thread count is a process-wide setting; creating this backend sets it.
 */
public final class CpuBackend implements Backend {

    /** Which implementation runs the Adam pass. */
    public enum AdamPassChoice {
        /** Native where available, else Java. */
        AUTO,
        /** Native; refuse to start without it. */
        NATIVE,
        /** Java, even where the native pass is available (for comparison). */
        JAVA
    }

    private static final Set<Capability> CAPABILITIES = Collections.unmodifiableSet(EnumSet.of(Capability.HOST,
            Capability.SPECTRAL_SOLVERS, Capability.EXACT_IN_DOUBLE, Capability.LOW_RANK_SOLVE));

    private final int threads;
    private final RowParallel parallel;
    private final boolean nativePass;

    /** @param threads threads for OpenBLAS and the element-wise pass; 0 for all available cores */
    public CpuBackend(int threads) {
        this(threads, AdamPassChoice.AUTO);
    }

    /**
     * @param threads threads for OpenBLAS and the element-wise pass; 0 for all available cores
     * @param pass    which Adam pass to run
     * @throws IllegalStateException for NATIVE where the native pass is not available (the message says why)
     */
    public CpuBackend(int threads, AdamPassChoice pass) {
        if (threads < 0) {
            throw new IllegalArgumentException("thread count must be >= 0 (0 = all cores), got " + threads);
        }
        this.nativePass = switch (pass) {
            case AUTO -> CpuAdamKernel.available();
            case JAVA -> false;
            case NATIVE -> {
                if (!CpuAdamKernel.available()) {
                    throw new IllegalStateException("the native CPU Adam pass is not available: " + CpuAdamKernel.status());
                }
                yield true;
            }
        };
        this.threads = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        Blas.setThreads(this.threads);
        this.parallel = new RowParallel(this.threads);
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu: " + Runtime.getRuntime().availableProcessors() + " cores available, " + threads
                + " threads in use; " + Blas.describe() + "; Adam pass: " + adamPass();
    }

    /** The Adam pass in use, in one line: "native (libwudi_cpu, ...)" or "Java (...why...)". */
    public String adamPass() {
        if (nativePass) {
            return CpuAdamKernel.status();
        }
        return CpuAdamKernel.available() ? "Java (chosen; the native pass is available)"
                : "Java (native pass: " + CpuAdamKernel.status() + ")";
    }

    /** True if the native Adam pass runs. */
    public boolean nativeAdamPass() {
        return nativePass;
    }

    public int threads() {
        return threads;
    }

    /**
     * Each Adam step's product P = tau_m C (2 rows cols^2 flops) is split over at most one thread per
     * {@link #STEP_FLOPS_PER_THREAD}: a small product ([256, 64], 2 Mflop) handed to several threads costs more in
     * their hand-offs than it saves, and far more on a busy machine, where a descheduled worker holds up every step
     * (measured in docs/benchmarks.md: 0.42 s against 0.21 s on one thread). Large products use every thread.
     */
    static final double STEP_FLOPS_PER_THREAD = 16e6;

    int stepThreads(int rows, int cols) {
        double flops = 2.0 * rows * cols * (double) cols;
        return (int) Math.max(1, Math.min(threads, Math.floor(flops / STEP_FLOPS_PER_THREAD)));
    }

    /**
     * Everything: the reference runs every solver, the exact one in double ({@code CpuWudiProblem.expect}:
     * ExactMinimiser), and is where work goes that another backend does not offer or cannot hold.
     */
    @Override
    public Set<Capability> capabilities() {
        return CAPABILITIES;
    }

    /** With LAPACK on the host: the matrices are [R, R] and [rows, R], small beside the dense [cols, cols]. */
    @Override
    public LowRankWudi.Solution solveLowRank(int rows, int cols, List<LowRankWudi.Factors> tasks,
                                             SpectralFilter filter) {
        return LowRankSolve.solve(rows, cols, tasks, filter);
    }

    @Override
    public WudiProblem newProblem(String tensorName, int rows, int cols) {
        return new CpuWudiProblem(tensorName, rows, cols, parallel, nativePass, stepThreads(rows, cols));
    }

    @Override
    public void close() {
        parallel.close();
    }
}
