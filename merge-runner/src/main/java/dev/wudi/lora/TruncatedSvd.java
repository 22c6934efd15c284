package dev.wudi.lora;

import dev.wudi.linalg.OpenBlasEnvironment;
import org.bytedeco.openblas.global.openblas;

/**
 * The best rank-R approximation of a dense [m, n] delta (Eckart-Young): M ~ (U_R Sigma_R) V_R^T, as LoRA factors
 * B = U_R Sigma_R [m, R] and A = V_R^T [R, n]. LAPACK's dgesdd on a double copy; the relative error
 * ||M - B A||_F / ||M||_F = sqrt(sum of the dropped sigma^2 / sum of all sigma^2) comes from the singular values.
 */
public final class TruncatedSvd {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    /** B [m, rank], A [rank, n] and the relative Frobenius error of B A. */
    public record Factors(float[] b, float[] a, int rank, double relativeError) {
    }

    private TruncatedSvd() {
    }

    public static Factors of(float[] mat, int m, int n, int rank) {
        int k = Math.min(m, n);
        int r = Math.min(rank, k);
        double[] a = new double[mat.length];
        for (int i = 0; i < a.length; i++) {
            a[i] = mat[i];
        }
        double[] s = new double[k];
        double[] u = new double[m * k];
        double[] vt = new double[k * n];
        int info = openblas.LAPACKE_dgesdd(openblas.LAPACK_ROW_MAJOR, (byte) 'S', m, n, a, n, s, u, k, vt, n);
        if (info != 0) {
            throw new ArithmeticException("LAPACK dgesdd on a [" + m + ", " + n + "] delta failed (info " + info + ")");
        }
        double all = 0;
        double kept = 0;
        for (int i = 0; i < k; i++) {
            all += s[i] * s[i];
            if (i < r) {
                kept += s[i] * s[i];
            }
        }
        float[] b = new float[m * r];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < r; j++) {
                b[i * r + j] = (float) (u[i * k + j] * s[j]);
            }
        }
        float[] at = new float[r * n];
        for (int j = 0; j < r; j++) {
            for (int c = 0; c < n; c++) {
                at[j * n + c] = (float) vt[j * n + c];
            }
        }
        double err = all == 0 ? 0 : Math.sqrt(Math.max(0, all - kept) / all);
        return new Factors(b, at, r, err);
    }
}
