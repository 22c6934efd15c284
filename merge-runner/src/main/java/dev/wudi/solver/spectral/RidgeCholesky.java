package dev.wudi.solver.spectral;

import dev.wudi.linalg.OpenBlasEnvironment;
import org.bytedeco.openblas.global.openblas;

/**
 * The exact solver with a ridge, tau_m = D (C + rho I)^-1 (specification 2.3), by a Cholesky factorisation instead of an
 * eigendecomposition: n^3 / 3 flops for the factor and 2 n^2 rows for the solve, against about 9 n^3 for dsyevd and
 * its products. C + rho I is positive definite for rho &gt; 0, and its condition number (lambda_max + rho) / rho
 * bounds how far float32 rounding can carry: the factorisation runs in float32 (spotrf, spotrs) where that bound
 * times 2^-24 stays under 1e-3, else in double (dpotrf, dpotrs) on a widened copy. If the factorisation fails anyway
 * (rho below the float32 noise of C), the caller falls back to the eigendecomposition.
 */
public final class RidgeCholesky {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private RidgeCholesky() {
    }

    /** What a solve produced; null tau when C + rho I was not positive definite to working precision. */
    public record Solution(float[] tau, boolean doublePrecision, double seconds) {
    }

    /**
     * Solves X (C + ridge I) = D for X = tau_m.
     *
     * @param c     C, row-major [cols, cols], symmetric; overwritten
     * @param d     D, row-major [rows, cols]; overwritten
     * @param trace trace(C) (bounds lambda_max for the precision choice)
     */
    public static Solution solve(float[] c, float[] d, int rows, int cols, double ridge, double trace) {
        if (!(ridge > 0) || Double.isInfinite(ridge)) {
            throw new IllegalArgumentException("the Cholesky path needs a ridge > 0, got " + ridge);
        }
        long t0 = System.nanoTime();
        boolean inDouble = (trace + ridge) / ridge * 0x1p-24 > 1e-3;
        // Row-major C (symmetric) is the same column-major; row-major D [rows, cols] is column-major D^T [cols, rows],
        // so (C + rho I) X^T = D^T is potrs with D's array as the right-hand sides, and X^T comes back over it.
        if (!inDouble) {
            for (int i = 0; i < cols; i++) {
                c[i * cols + i] += (float) ridge;
            }
            int info = openblas.LAPACKE_spotrf(openblas.LAPACK_COL_MAJOR, (byte) 'U', cols, c, cols);
            if (info == 0) {
                info = openblas.LAPACKE_spotrs(openblas.LAPACK_COL_MAJOR, (byte) 'U', cols, rows, c, cols, d, cols);
                if (info == 0) {
                    return new Solution(d, false, (System.nanoTime() - t0) / 1e9);
                }
            }
            return new Solution(null, false, (System.nanoTime() - t0) / 1e9);
        }
        double[] a = new double[c.length];
        for (int i = 0; i < c.length; i++) {
            a[i] = c[i];
        }
        for (int i = 0; i < cols; i++) {
            a[i * cols + i] += ridge;
        }
        double[] b = new double[d.length];
        for (int i = 0; i < d.length; i++) {
            b[i] = d[i];
        }
        int info = openblas.LAPACKE_dpotrf(openblas.LAPACK_COL_MAJOR, (byte) 'U', cols, a, cols);
        if (info == 0) {
            info = openblas.LAPACKE_dpotrs(openblas.LAPACK_COL_MAJOR, (byte) 'U', cols, rows, a, cols, b, cols);
        }
        if (info != 0) {
            return new Solution(null, true, (System.nanoTime() - t0) / 1e9);
        }
        for (int i = 0; i < d.length; i++) {
            d[i] = (float) b[i];
        }
        return new Solution(d, true, (System.nanoTime() - t0) / 1e9);
    }
}
