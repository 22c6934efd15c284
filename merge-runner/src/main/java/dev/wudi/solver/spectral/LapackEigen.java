package dev.wudi.solver.spectral;

import dev.wudi.linalg.OpenBlasEnvironment;
import org.bytedeco.javacpp.DoublePointer;
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
        if (doublePrecision) {
            return decomposeWidened(c, n);
        }
        double[] a = new double[c.length];
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
     * dsyevd on C widened into a native buffer: a heap double[] would be copied again by the JNI call, and that copy
     * and dsyevd's own workspace (about 2 n^2 doubles) would be alive together (an extra n^2 doubles, 970 MB at
     * n = 11008). The eigenvectors come back to the heap only after the workspace is freed.
     */
    private static EigenPairs decomposeWidened(float[] c, int n) {
        double[] w = new double[n];
        double[] vectors;
        int info;
        try (DoublePointer a = new DoublePointer((long) n * n); DoublePointer wp = new DoublePointer(n)) {
            java.nio.DoubleBuffer ab = a.asBuffer();
            for (int i = 0; i < c.length; i++) {
                ab.put(i, c[i]);
            }
            // jobz 'V' (vectors), uplo 'U'; row-major: the upper triangle of the row-major array
            info = openblas.LAPACKE_dsyevd(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', n, a, n, wp);
            if (info != 0) {
                return sorted(info, null, w, n, "lapack-dsyevd");     // throws, naming the failure
            }
            vectors = new double[c.length];
            ab.get(0, vectors);
            wp.get(w);
        }
        return sorted(info, vectors, w, n, "lapack-dsyevd");
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
