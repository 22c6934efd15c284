package dev.wudi.backend.cpu;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;

/**
 * The reference backend: OpenBLAS for the matrix products, Java threads for the fused element-wise
 * pass. OpenBLAS's thread count is a process-wide setting; creating this backend sets it.
 */
public final class CpuBackend implements Backend {

    private final int threads;
    private final RowParallel parallel;

    /** @param threads threads for OpenBLAS and the element-wise pass; 0 for all available cores */
    public CpuBackend(int threads) {
        if (threads < 0) {
            throw new IllegalArgumentException("thread count must be >= 0 (0 = all cores), got " + threads);
        }
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
                + " threads in use; " + Blas.describe();
    }

    public int threads() {
        return threads;
    }

    @Override
    public boolean offersSpectralSolvers() {
        return true;
    }

    @Override
    public WudiProblem newProblem(String tensorName, int rows, int cols) {
        return new CpuWudiProblem(tensorName, rows, cols, parallel);
    }

    @Override
    public void close() {
        parallel.close();
    }
}
