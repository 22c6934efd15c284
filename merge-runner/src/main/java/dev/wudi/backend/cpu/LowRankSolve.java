package dev.wudi.backend.cpu;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;

import dev.wudi.linalg.OpenBlasEnvironment;
import dev.wudi.lora.LowRankWudi.Factors;
import dev.wudi.lora.LowRankWudi.Solution;
import dev.wudi.solver.WudiResult;
import dev.wudi.solver.spectral.LapackEigen;
import dev.wudi.solver.spectral.SpectralFilter;
import dev.wudi.solver.spectral.SymmetricEigen;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.openblas.global.openblas;

/**
 * The CPU's solve of the closed-form and spectral WUDI solvers (specification 2.3) on task vectors given as low-rank
 * factors ({@link CpuBackend#solveLowRank}, LAPACK through OpenBLAS), tau_i = s_i P_i Q_i
 * (P_i [rows, r_i], Q_i [r_i, cols]: a LoRA adapter's B and A in the paper's [out, in] orientation), without ever
 * forming an [cols, cols] matrix. Every tau_i's rows lie in the span of the stacked Q_i; with U [cols, R] an
 * orthonormal basis of it (a QR of the stacked Q_i^T, R = sum r_i) and t_i = s_i P_i (Q_i U) [rows, R], tau_i = t_i U^T
 * and
 *
 * <pre>
 *   C = U c U^T,  c = sum w_i t_i^T t_i             [R, R]
 *   D = d U^T,    d = sum w_i t_i (t_i^T t_i)       [rows, R]
 *   tau0 = t0 U^T, t0 = sum t_i;   K = sum w_i ||t_i^T t_i||_F^2;   w_i = 1 / ||t_i||_F^2 (= 1 / ||tau_i||_F^2)
 * </pre>
 *
 * so C's eigenvectors with nonzero eigenvalues are U W (c = W diag(lambda) W^T) and every filter's solution
 * tau = keep tau0 - tau0 V diag(a) V^T + D V diag(b) V^T is x U^T with x = keep t0 - t0 W diag(a) W^T + d W diag(b) W^T
 * [rows, R]: the merged task vector is exactly of rank at most R, which is what lets the result be an adapter again.
 * The eigenvalues filtered as numerical zeros are those the dense computation drops: a float32 C's of dimension cols
 * for the filters ({@link SpectralFilter#coefficients(SymmetricEigen.EigenPairs, int)}), double's for the exact
 * solver (dev.wudi.solver.spectral.ExactMinimiser), none with a ridge. Everything here is in double (the matrices
 * are small); the cost is O(rows R^2 + cols R^2) per task instead of the dense O(rows cols^2) and an
 * eigendecomposition of [cols, cols].
 */
final class LowRankSolve {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private LowRankSolve() {
    }

    /** tau_m of the filter's solver on these task vectors, in factors; see the class comment. */
    static Solution solve(int rows, int cols, List<Factors> tasks, SpectralFilter filter) {
        long t0 = System.nanoTime();
        int r = 0;
        for (Factors f : tasks) {
            r += f.rank();
        }
        if (r == 0 || r > cols) {
            throw new IllegalArgumentException("sum of ranks " + r + " must lie in [1, " + cols + "]");
        }
        double[] u = basis(tasks, cols, r);                         // U [cols, r], orthonormal columns
        double[] c = new double[r * r];
        double[] d = new double[rows * r];
        double[] sum = new double[rows * r];
        double k = 0;
        List<Integer> zeros = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            Factors f = tasks.get(i);
            double[] a = new double[f.rank() * r];
            dgemm(false, false, f.rank(), r, cols, 1, widen(f.q()), u, 0, a);          // a_i = Q_i U   [r_i, r]
            double[] t = new double[rows * r];
            dgemm(false, false, rows, r, f.rank(), f.scaling(), widen(f.p()), a, 0, t); // t_i = s P_i a_i [rows, r]
            double norm2 = 0;
            for (int j = 0; j < t.length; j++) {
                sum[j] += t[j];                                                          // t0 = sum t_i
                norm2 += t[j] * t[j];
            }
            if (norm2 == 0) {
                zeros.add(i);                               // w_i would be 1/0: weight 0 (as GramForm does)
                continue;
            }
            double w = (float) (1.0 / norm2);               // w_i as float32, the dense accumulation's weight
            double[] g = new double[r * r];
            dgemm(true, false, r, r, rows, 1, t, t, 0, g);                               // g_i = t_i^T t_i
            for (int j = 0; j < g.length; j++) {
                c[j] += w * g[j];                                                        // c += w_i g_i
                k += w * g[j] * g[j];                                                    // K += w_i ||g_i||^2
            }
            dgemm(false, false, rows, r, r, w, t, g, 1, d);                              // d += w_i t_i g_i
        }
        double before = loss(sum, c, d, k, rows, r);
        double[] x = new double[rows * r];
        long e0 = System.nanoTime();
        double[] vecs = c.clone();
        SymmetricEigen.EigenPairs e = LapackEigen.decomposeInPlace(vecs, r);
        long e1 = System.nanoTime();
        // the numerical zero as the dense computation's: float32 C's for the filters, double's for the exact solver
        // (ExactMinimiser: its own rounding floor is far below, the factors being exact), none with a ridge
        SpectralFilter.Coefficients co = filter.kind() != SpectralFilter.Kind.EXACT ? filter.coefficients(e, cols)
                : filter.coefficients(e, cols, filter.param() > 0 ? -1
                        : dev.wudi.solver.spectral.ExactMinimiser.zeroThreshold(cols, e.max()));
        if (co.keepSum()) {
            System.arraycopy(sum, 0, x, 0, x.length);
        }
        int used = co.used();
        if (used > 0) {
            double[] w = new double[r * used];              // W_used [r, used]
            for (int i = 0; i < r; i++) {
                System.arraycopy(vecs, i * r, w, i * used, used);
            }
            double[] m = new double[rows * used];
            dgemm(false, false, rows, used, r, 1, d, w, 0, m);                           // d W
            double[] s0 = new double[rows * used];
            if (co.keepSum()) {
                dgemm(false, false, rows, used, r, 1, sum, w, 0, s0);                    // t0 W
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < used; j++) {
                    m[i * used + j] = co.b()[j] * m[i * used + j] - co.a()[j] * s0[i * used + j];
                }
            }
            dgemm(false, true, rows, r, used, 1, m, w, 1, x);                            // x += M W^T
        }
        double after = loss(x, c, d, k, rows, r);
        float[] xf = new float[rows * r];
        for (int j = 0; j < xf.length; j++) {
            xf[j] = (float) x[j];
        }
        float[] basis = new float[r * cols];               // U^T [r, cols]
        for (int i = 0; i < cols; i++) {
            for (int j = 0; j < r; j++) {
                basis[j * cols + i] = (float) u[i * r + j];
            }
        }
        return new Solution(rows, cols, r, xf, basis, before, after, co.param(), used, (e1 - e0) / 1e9,
                (System.nanoTime() - t0) / 1e9, zeros);
    }

    /** An orthonormal basis U [cols, r] of the span of every Q_i's rows: Householder QR of [Q_1; ...; Q_n]^T. */
    private static double[] basis(List<Factors> tasks, int cols, int r) {
        double[] m = new double[cols * r];                 // [cols, r]: column j is one row of one Q_i
        int j = 0;
        for (Factors f : tasks) {
            for (int row = 0; row < f.rank(); row++, j++) {
                for (int i = 0; i < cols; i++) {
                    m[i * r + j] = f.q()[row * cols + i];
                }
            }
        }
        double[] tau = new double[r];
        int info = openblas.LAPACKE_dgeqrf(openblas.LAPACK_ROW_MAJOR, cols, r, m, r, tau);
        if (info == 0) {
            info = openblas.LAPACKE_dorgqr(openblas.LAPACK_ROW_MAJOR, cols, r, r, m, r, tau);
        }
        if (info != 0) {
            throw new ArithmeticException("LAPACK QR of the stacked LoRA factors [" + cols + ", " + r + "] failed"
                    + " (info " + info + ")");
        }
        return m;
    }

    /** L(y) = &lt;y c, y&gt; - 2 &lt;y, d&gt; + K in the basis (equal to L(y U^T) of the dense problem). */
    private static double loss(double[] y, double[] c, double[] d, double k, int rows, int r) {
        double[] p = new double[rows * r];
        dgemm(false, false, rows, r, r, 1, y, c, 0, p);
        double acc = 0;
        for (int j = 0; j < p.length; j++) {
            acc += (p[j] - 2 * d[j]) * y[j];
        }
        return WudiResult.nonNegative(acc + k);      // a sum of squares, computed by cancellation
    }

    private static double[] widen(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }

    /** C = alpha op(A) op(B) + beta C, row-major, op(A) [m, k], op(B) [k, n]. */
    private static void dgemm(boolean ta, boolean tb, int m, int n, int k, double alpha, double[] a, double[] b,
                              double beta, double[] c) {
        openblas.cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k,
                alpha, a, ta ? m : k, b, tb ? k : n, beta, c, n);
    }
}
