package dev.wudi.solver.spectral;

import dev.wudi.linalg.OpenBlasEnvironment;
import org.bytedeco.openblas.global.openblas;

/**
 * C = V diag(lambda) V^T on the CPU with LAPACK's divide-and-conquer symmetric solver (OpenBLAS's
 * LAPACKE_dsyevd or LAPACKE_ssyevd). Double precision is the default: C arrives in float32, but the
 * small eigenvalues decide the exact and flow solutions (they are divided by), and dsyevd resolves them
 * to ~1e-16 * lambda_max instead of ~1e-7 * lambda_max, at about twice the time of ssyevd.
 */
public final class LapackEigen implements SymmetricEigen {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private final boolean doublePrecision;

    /** @param doublePrecision true: dsyevd on a widened copy (the default); false: ssyevd */
    public LapackEigen(boolean doublePrecision) {
        this.doublePrecision = doublePrecision;
    }

    public LapackEigen() {
        this(true);
    }

    @Override
    public String name() {
        return doublePrecision ? "lapack-dsyevd" : "lapack-ssyevd";
    }

    @Override
    public EigenPairs decompose(float[] c, int n) {
        if (n <= 0 || c.length != (long) n * n) {
            throw new IllegalArgumentException("expected an [" + n + ", " + n + "] matrix, got " + c.length + " values");
        }
        double[] a = new double[c.length];
        if (doublePrecision) {
            for (int i = 0; i < c.length; i++) {
                a[i] = c[i];
            }
            return decomposeInPlace(a, n);
        }
        double[] w = new double[n];
        int info;
        {
            float[] af = c.clone();
            float[] wf = new float[n];
            info = openblas.LAPACKE_ssyevd(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', n, af, n, wf);
            for (int i = 0; i < af.length; i++) {
                a[i] = af[i];
            }
            for (int i = 0; i < n; i++) {
                w[i] = wf[i];
            }
        }
        return sorted(info, a, w, n, name());
    }

    /**
     * Decomposes a symmetric [n, n] matrix given in double with dsyevd, overwriting {@code a} with the eigenvectors
     * (only its upper triangle is read): for matrices formed in double, such as C restricted to the span of LoRA
     * factors.
     */
    public static EigenPairs decomposeInPlace(double[] a, int n) {
        if (n <= 0 || a.length != (long) n * n) {
            throw new IllegalArgumentException("expected an [" + n + ", " + n + "] matrix, got " + a.length + " values");
        }
        double[] w = new double[n];
        // jobz 'V' (vectors), uplo 'U'; row-major: the upper triangle of the row-major array
        int info = openblas.LAPACKE_dsyevd(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', n, a, n, w);
        return sorted(info, a, w, n, "lapack-dsyevd");
    }

    /** LAPACK's ascending result as descending eigenpairs (or the failure as an exception). */
    private static EigenPairs sorted(int info, double[] a, double[] w, int n, String name) {
        if (info != 0) {
            throw new ArithmeticException("LAPACK " + name + " failed on an [" + n + ", " + n + "] matrix (info "
                    + info + (info > 0 ? ": did not converge" : ": illegal argument " + (-info)) + ")");
        }
        // LAPACK returns ascending order: reverse the values and, in place, the columns of V (no second n x n copy)
        double[] values = new double[n];
        for (int j = 0; j < n; j++) {
            values[j] = w[n - 1 - j];
        }
        for (int i = 0; i < n; i++) {
            int row = i * n;
            for (int j = 0, k = n - 1; j < k; j++, k--) {
                double t = a[row + j];
                a[row + j] = a[row + k];
                a[row + k] = t;
            }
        }
        return new EigenPairs(n, values, a);
    }
}
