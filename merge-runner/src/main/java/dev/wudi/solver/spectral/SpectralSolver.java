package dev.wudi.solver.spectral;

import dev.wudi.linalg.Blas;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.linalg.SelectedEigenpairs;
import dev.wudi.solver.GramForm;
import dev.wudi.solver.SolverSpec;
import java.nio.FloatBuffer;

/**
 * The closed-form and spectral solvers of specification 2.3 on one weight: one symmetric eigendecomposition of C,
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
 *
 * <p>{@link #solveInPlace} is the same formula in float32 on the backend's own Gram form, for the filters whose
 * coefficients are bounded (every filter but the exact one): it decomposes C where it lies and computes only the
 * r eigenvectors the filter uses ({@link SelectedEigenpairs}).
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

    /**
     * Whether {@link #solveInPlace} may serve this filter. A float32 eigensolver perturbs C's eigenpairs by about
     * 2^-24 ||C|| times a small factor (LAPACK's backward error), the same order as the rounding C already carries from
     * its float32 accumulation over the rows; a filter whose coefficients change by a bounded amount under such
     * a perturbation (|a'| &lt;= 2t or 1/rho, |b'| &lt;= 2t^2 or 1/rho^2) gives a merge as accurate as its C. The exact
     * filter's b = 1/lambda is not bounded: its small eigenvalues need C and the eigensolver in double
     * ({@link ExactMinimiser}), and with a ridge the Cholesky solve or the double path.
     */
    public static boolean inPlaceServes(SpectralFilter filter) {
        return filter.kind() != SpectralFilter.Kind.EXACT;
    }

    /**
     * The solution of {@link #solve} from the backend's float32 Gram form, with bounded memory: C is decomposed in
     * place ({@link GramForm#takeC}) and freed after the eigenvectors are formed, only the r leading eigenvectors the
     * filter uses are computed, and tau is formed in place of tau0 (which {@code g} no longer holds afterwards). At
     * [4096, 11008] the peak is C and V_r (2 x 485 MB) with D and tau0, against C, D, tau0, their heap copies, C in
     * double and dsyevd's workspace of 2 n^2 doubles for {@link #solve}.
     *
     * <p>The loss after is summed over the eigen-directions the solver changed: over an orthonormal eigenbasis v_j of
     * C, L(tau) = sum_j (lambda_j ||tau v_j||^2 - 2 &lt;tau v_j, D v_j&gt;) + K, and tau v_j = A_j + M_j for the r
     * directions used (A = tau0 V_r, B = D V_r, M the update), tau0 v_j elsewhere, so
     * L(tau) - L(tau0) = sum_{j &lt; r} sum_i [lambda_j (2 A_ij M_ij + M_ij^2) - 2 M_ij B_ij]: no second
     * [rows, cols] x [cols, cols] product, and C is gone by then anyway.
     */
    public static Solution solveInPlace(GramForm g, SpectralFilter filter) {
        if (!inPlaceServes(filter)) {
            throw new IllegalArgumentException("the " + filter.kind().label() + " filter needs the double-precision path");
        }
        long t0 = System.nanoTime();
        int rows = g.rows();
        int cols = g.cols();
        NativeFloats tau0 = g.sum();
        double before = g.loss(tau0);
        SpectralFilter.Coefficients[] chosen = new SpectralFilter.Coefficients[1];
        SelectedEigenpairs e;
        try (NativeFloats c = g.takeC()) {
            e = SelectedEigenpairs.decompose(c, cols, values -> {
                chosen[0] = filter.coefficients(values, cols, SpectralFilter.zeroThreshold(values, cols));
                return chosen[0].used();
            });
        }
        try (e) {
            SpectralFilter.Coefficients co = chosen[0];
            int r = co.used();
            double after = before;
            if (r > 0) {
                NativeFloats vt = e.vectorsT();                                        // V_r^T [r, cols]
                try (NativeFloats m = new NativeFloats(rows * r); NativeFloats a = new NativeFloats(rows * r)) {
                    Blas.sgemm(false, true, rows, r, cols, 1f, g.d(), vt, 0f, m);      // B = D V_r
                    Blas.sgemm(false, true, rows, r, cols, 1f, tau0, vt, 0f, a);       // A = tau0 V_r
                    after += update(m, a, rows, r, co, e.values());                   // M = B diag(b) - A diag(a)
                    Blas.sgemm(false, false, rows, cols, r, 1f, m, vt, 1f, tau0);     // tau = tau0 + M V_r^T
                }
            }
            long t1 = System.nanoTime();
            return new Solution(tau0.toArray(), before, after, co.param(), r, e.seconds(), (t1 - t0) / 1e9);
        }
    }

    /**
     * Overwrites B (in m) with M = B diag(b) - A diag(a) and returns L(tau) - L(tau0) over the r directions
     * (see {@link #solveInPlace}), accumulated in double.
     */
    private static double update(NativeFloats m, NativeFloats a, int rows, int r, SpectralFilter.Coefficients co,
                                 double[] lambda) {
        FloatBuffer mb = m.buffer();
        FloatBuffer ab = a.buffer();
        double[] ca = co.a();
        double[] cb = co.b();
        double change = 0;
        for (int i = 0; i < rows; i++) {
            int row = i * r;
            for (int j = 0; j < r; j++) {
                double bij = mb.get(row + j);
                double aij = ab.get(row + j);
                float mij = (float) (cb[j] * bij - ca[j] * aij);
                mb.put(row + j, mij);
                change += lambda[j] * (2 * aij * mij + (double) mij * mij) - 2 * mij * bij;
            }
        }
        return change;
    }

    private static void scaleColumns(float[] m, int rows, int r, double[] s) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < r; j++) {
                m[i * r + j] = (float) (s[j] * m[i * r + j]);
            }
        }
    }
}
