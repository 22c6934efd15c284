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
 * ONE sgemm P = tau_m C ([rows, cols] x [cols, cols], OpenBLAS) followed by one fused element-wise pass
 * (g = 2 (P - D) and Adam's update of m, v, tau_m) on the backend's threads, one block of rows each.
 *
 * <p>Memory: the GEMM needs tau_m and P in native memory; the pass runs on heap float[] copies because
 * HotSpot vectorises loops over arrays and not over direct buffers (8x faster here). Each thread copies
 * P in from native memory and tau_m back out one cache-sized chunk at a time, just before and after
 * updating that chunk, so the copies cost little bandwidth.
 *
 * <p>The loss at a step's start, L = &lt;P - 2D, tau_m&gt; + K, is accumulated in double in the same pass
 * (while the chunk is in cache) but only at step 1 (for {@link WudiResult#lossBefore()}) and when a
 * listener is given: as a double reduction it does not vectorise and costs more than the update itself
 * (measured on one core, in cache: 0.68 ns per element against 0.46 ns for the vectorised Adam update).
 */
final class CpuWudiProblem implements WudiProblem {

    /** Elements per chunk: 6 arrays x 16 KiB stay in a core's L2 cache. */
    private static final int CHUNK = 4096;

    private final String tensorName;
    private final int rows;
    private final int cols;
    private final RowParallel parallel;
    private GramForm gram;

    /** Rows of P per strip GEMM are at least this many elements' worth (512 KiB of P: it stays in L2). */
    static final int STRIP_ELEMENTS = Integer.getInteger("wudi.stripElements", 1 << 17);

    /** ... and at least this many rows, so that packing C once per strip GEMM is amortised. */
    static final int MIN_STRIP_ROWS = Integer.getInteger("wudi.minStripRows", 64);

    /**
     * A strip GEMM must do at least this many multiply-adds (m n k): below 28 x 512^2 a single-threaded
     * OpenBLAS sgemm on Skylake-X/Cooperlake takes its "direct" kernel, whose rounding differs from the
     * blocked kernel that the whole-matrix GEMM uses.
     */
    static final long MIN_STRIP_MNK = 1L << 23;

    /** Rows per strip; 0 = the whole-matrix path. */
    private final int stripRows;

    CpuWudiProblem(String tensorName, int rows, int cols, RowParallel parallel) {
        this(tensorName, rows, cols, parallel, 0);       // strips measured no faster (see the commit message)
    }

    /** @param stripRows rows per strip GEMM, 0 for the whole-matrix path, -1 for {@link #defaultStripRows} */
    CpuWudiProblem(String tensorName, int rows, int cols, RowParallel parallel, int stripRows) {
        this.tensorName = tensorName;
        this.rows = rows;
        this.cols = cols;
        this.parallel = parallel;
        this.gram = new GramForm(rows, cols);
        int r = stripRows < 0 ? defaultStripRows(rows, cols) : stripRows;
        this.stripRows = r > 0 && stripsUsable(rows, cols, parallel, r) ? r : 0;
    }

    /** The default strip height: STRIP_ELEMENTS of P, at least MIN_STRIP_ROWS rows. */
    static int defaultStripRows(int rows, int cols) {
        return Math.max(MIN_STRIP_ROWS, (STRIP_ELEMENTS + cols - 1) / cols);
    }

    /**
     * Strips are used when the pass runs on all the backend's threads (else a single-threaded GEMM would
     * leave cores idle) and every strip GEMM is large enough for OpenBLAS's blocked kernel.
     */
    static boolean stripsUsable(int rows, int cols, RowParallel parallel, int stripRows) {
        int blocks = parallel.blocks(rows, cols);
        if (blocks != parallel.threads()) {
            return false;
        }
        int smallestBlock = rows / blocks;
        int smallestStrip = smallestBlock / stripCount(smallestBlock, stripRows);
        return (long) smallestStrip * cols * cols >= MIN_STRIP_MNK;
    }

    /** Strips of a block of blockRows rows: ceil(blockRows / stripRows), of near-equal heights. */
    static int stripCount(int blockRows, int stripRows) {
        return Math.max(1, (blockRows + stripRows - 1) / stripRows);
    }

    /** Rows per strip in use (0: the whole-matrix path). */
    int stripRows() {
        return stripRows;
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

    @Override
    public int zeroTaskCount() {
        checkOpen();
        return gram.zeroTaskCount();
    }

    @Override
    public WudiResult solveAdam(AdamConfig config, StepListener listener) {
        checkOpen();
        if (gram.taskCount() == 0) {
            throw new IllegalStateException("tensor " + tensorName
                    + ": solveAdam called before any task vector was added");
        }
        int n = rows * cols;
        NativeFloats c = gram.c();
        double k = gram.k();
        float[] d = gram.d().toArray();
        float[] tau = gram.sum().toArray();                              // tau_m starts at sum_i tau_i
        float[] p = new float[n];
        float[] m = new float[n];
        float[] v = new float[n];
        try (NativeFloats tauNative = NativeFloats.of(tau); NativeFloats pNative = new NativeFloats(n)) {
            FloatBuffer pIn = pNative.buffer();
            FloatBuffer tauOut = tauNative.buffer();
            double lossBefore = Double.NaN;
            if (stripRows > 0) {
                lossBefore = stepsInStrips(config, listener, c, k, d, tau, p, m, v, tauNative);
            }
            for (int t = stripRows > 0 ? config.iterations() + 1 : 1; t <= config.iterations(); t++) {
                Blas.sgemm(false, false, rows, cols, cols, 1.0f, tauNative, c, 0.0f, pNative);   // P = tau_m C
                Adam.StepScalars s = Adam.scalars(config, t);
                boolean withLoss = t == 1 || listener != null;
                double lossTerms = parallel.run(rows, cols, (block, from, to) -> {
                    double acc = 0.0;
                    for (int i = from; i < to; i += CHUNK) {
                        int end = Math.min(to, i + CHUNK);
                        pIn.get(i, p, i, end - i);
                        if (withLoss) {
                            acc += Adam.gramLossTerms(p, d, tau, i, end);            // <P - 2D, tau_m>
                        }
                        Adam.stepGramForm(s, p, d, m, v, tau, i, end);
                        tauOut.put(i, tau, i, end - i);
                    }
                    return acc;
                });
                if (withLoss) {
                    double loss = lossTerms + k;                                   // L = <P - 2D, tau_m> + K
                    if (t == 1) {
                        lossBefore = loss;
                    }
                    if (listener != null) {
                        listener.afterStep(t, loss);
                    }
                }
            }
            Blas.sgemm(false, false, rows, cols, cols, 1.0f, tauNative, c, 0.0f, pNative);       // L at the end
            double lossAfter = k + parallel.run(rows, cols, (block, from, to) -> {
                pIn.get(from, p, from, to - from);
                return Adam.gramLossTerms(p, d, tau, from, to);
            });
            if (config.iterations() == 0) {
                lossBefore = lossAfter;
            }
            return new WudiResult(tau, lossBefore, lossAfter, config.iterations());
        }
    }

    /**
     * The Adam steps strip by strip: rows of P = tau_m C depend only on the same rows of tau_m, so each
     * thread takes its block of rows in strips of about stripRows rows, and for each strip runs a
     * single-threaded sgemm into its own small native buffer (which stays in its core's L2 cache) and at
     * once the fused Adam pass on it. The threads do not wait on each other within a step, so one core's
     * GEMM overlaps the other's memory-bound pass. OpenBLAS's thread count is process-global: it is 1 from
     * the first step to the last (the listener too runs then) and restored before the final loss. Each row of P is computed by the same
     * blocked kernel with the same K-blocking as in the whole-matrix GEMM, so tau_m is the same to the bit
     * (tested); the loss's double sum is taken in another order (last-bit differences).
     *
     * @return the loss at the start of step 1 (NaN for zero iterations)
     */
    private double stepsInStrips(AdamConfig config, StepListener listener, NativeFloats c, double k, float[] d,
                                 float[] tau, float[] p, float[] m, float[] v, NativeFloats tauNative) {
        int blocks = parallel.blocks(rows, cols);
        NativeFloats[] pStrip = new NativeFloats[blocks];
        double lossBefore = Double.NaN;
        int blasThreads = Blas.threads();
        Blas.setThreads(1);                      // costs milliseconds (OpenBLAS re-sizes its pool): once per solve
        try {
            for (int b = 0; b < blocks; b++) {
                pStrip[b] = new NativeFloats(Math.min(stripRows, (rows + blocks - 1) / blocks) * cols);
            }
            FloatBuffer tauOut = tauNative.buffer();
            for (int t = 1; t <= config.iterations(); t++) {
                Adam.StepScalars s = Adam.scalars(config, t);
                boolean withLoss = t == 1 || listener != null;
                double lossTerms = parallel.run(rows, cols, (block, from, to) -> {
                    NativeFloats strip = pStrip[block];
                    FloatBuffer pIn = strip.buffer();
                    int r0 = from / cols;
                    int blockRows = to / cols - r0;
                    int strips = stripCount(blockRows, stripRows);
                    double acc = 0.0;
                    for (int q = 0; q < strips; q++) {
                        int a = r0 + (int) ((long) blockRows * q / strips);
                        int e = r0 + (int) ((long) blockRows * (q + 1) / strips);
                        Blas.sgemmRows(a, e - a, cols, cols, tauNative, c, strip);     // P[a:e] = tau_m[a:e] C
                        int base = a * cols;
                        int stop = e * cols;
                        for (int i = base; i < stop; i += CHUNK) {
                            int end = Math.min(stop, i + CHUNK);
                            pIn.get(i - base, p, i, end - i);
                            if (withLoss) {
                                acc += Adam.gramLossTerms(p, d, tau, i, end);      // <P - 2D, tau_m>
                            }
                            Adam.stepGramForm(s, p, d, m, v, tau, i, end);
                            tauOut.put(i, tau, i, end - i);
                        }
                    }
                    return acc;
                });
                if (withLoss) {
                    double loss = lossTerms + k;                                       // L = <P - 2D, tau_m> + K
                    if (t == 1) {
                        lossBefore = loss;
                    }
                    if (listener != null) {
                        listener.afterStep(t, loss);
                    }
                }
            }
        } finally {
            Blas.setThreads(blasThreads);
            for (NativeFloats b : pStrip) {
                if (b != null) {
                    b.close();
                }
            }
        }
        return lossBefore;
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
