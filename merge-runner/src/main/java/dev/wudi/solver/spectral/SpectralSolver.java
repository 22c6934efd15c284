package dev.wudi.solver.spectral;

import dev.wudi.solver.SolverSpec;

/**
 * The closed-form and spectral solvers of SPEC 2.3 on one weight: one symmetric eigendecomposition of C,
 * then
 *
 * <pre>
 *   A = tau0 V_r,  B = D V_r                       [rows, r]   (two GEMMs, r = eigenpairs used)
 *   M = B diag(b) - A diag(a)                      [rows, r]
 *   tau = keep * tau0 + M V_r^T                    [rows, cols] (one GEMM)
 * </pre>
 *
 * which is tau0 - tau0 V diag(a) V^T + D V diag(b) V^T with the coefficients of {@link SpectralFilter}.
 * The eigenvectors are computed in double and rounded to float32 for the products; all products are
 * float32, as the rest of the engine.
 */
public final class SpectralSolver {

    /** What one solve produced: the merged task vector, its loss before/after, and what it cost. */
    public record Solution(float[] tau, double lossBefore, double lossAfter, double param, int used,
                           double eigenSeconds, double totalSeconds) {
    }

    private final SymmetricEigen eigen;

    public SpectralSolver(SymmetricEigen eigen) {
        this.eigen = eigen;
    }

    public SymmetricEigen eigen() {
        return eigen;
    }

    /** The filter a non-Adam solver spec stands for. */
    public static SpectralFilter filterOf(SolverSpec spec) {
        if (spec instanceof SolverSpec.Exact e) {
            return new SpectralFilter(SpectralFilter.Kind.EXACT, e.ridge(), 0);
        } else if (spec instanceof SolverSpec.Flow f) {
            return new SpectralFilter(SpectralFilter.Kind.EXPONENTIAL, f.time(), 0, Double.NaN);
        } else if (spec instanceof SolverSpec.Spectral s) {
            return new SpectralFilter(s.kind(), s.param(), s.rank(), s.cutoff());
        }
        throw new IllegalArgumentException(spec.name() + " is not a spectral solver");
    }

    public Solution solve(GramMatrices g, SolverSpec spec) {
        return solve(g, filterOf(spec));
    }

    public Solution solve(GramMatrices g, SpectralFilter filter) {
        long t0 = System.nanoTime();
        int rows = g.rows();
        int cols = g.cols();
        SymmetricEigen.EigenPairs e = eigen.decompose(g.c(), cols);
        long t1 = System.nanoTime();
        SpectralFilter.Coefficients co = filter.coefficients(e);
        int r = co.used();
        float[] tau = new float[rows * cols];
        if (co.keepSum()) {
            System.arraycopy(g.tau0(), 0, tau, 0, tau.length);
        }
        if (r > 0) {
            float[] vr = new float[cols * r]; // V_r [cols, r]: the r leading eigenvectors as columns
            double[] v = e.vectors();
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < r; j++) {
                    vr[i * r + j] = (float) v[i * cols + j];
                }
            }
            float[] m = new float[rows * r];
            Gemm.sgemm(false, false, rows, r, cols, 1f, g.d(), vr, 0f, m); // B = D V_r
            scaleColumns(m, rows, r, co.b());
            if (co.keepSum()) {
                float[] a = new float[rows * r];
                Gemm.sgemm(false, false, rows, r, cols, 1f, g.tau0(), vr, 0f, a); // A = tau0 V_r
                double[] ca = co.a();
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < r; j++) {
                        m[i * r + j] -= (float) (ca[j] * a[i * r + j]); // M = B diag(b) - A diag(a)
                    }
                }
            }
            Gemm.sgemm(false, true, rows, cols, r, 1f, m, vr, 1f, tau); // tau += M V_r^T
        }
        double before = g.loss(g.tau0());
        double after = g.loss(tau);
        long t2 = System.nanoTime();
        return new Solution(tau, before, after, co.param(), r, (t1 - t0) / 1e9, (t2 - t0) / 1e9);
    }

    private static void scaleColumns(float[] m, int rows, int r, double[] s) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < r; j++) {
                m[i * r + j] = (float) (s[j] * m[i * r + j]);
            }
        }
    }
}
