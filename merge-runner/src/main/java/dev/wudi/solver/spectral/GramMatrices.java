package dev.wudi.solver.spectral;

import java.util.List;

/**
 * The Gram form of one [rows, cols] weight's interference loss (specification 2.2) on the Java heap, as the
 * spectral solvers read it: C = sum w_i tau_i^T tau_i [cols, cols], D = sum w_i tau_i tau_i^T tau_i
 * [rows, cols], K = sum w_i ||tau_i tau_i^T||_F^2 and tau0 = sum tau_i, with w_i = 1 / ||tau_i||_F^2.
 * A backend copies its own accumulation into this record; {@link #of} builds one from task vectors.
 */
public record GramMatrices(int rows, int cols, float[] c, float[] d, float[] tau0, double k) {

    public GramMatrices {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("shape must be positive, got [" + rows + ", " + cols + "]");
        }
        if (c.length != (long) cols * cols || d.length != (long) rows * cols || tau0.length != (long) rows * cols) {
            throw new IllegalArgumentException("Gram form of a [" + rows + ", " + cols + "] weight has C " + c.length
                    + ", D " + d.length + ", tau0 " + tau0.length + " values");
        }
    }

    /**
     * Accumulates the Gram form of the given task vectors (each row-major [rows, cols]) with float32
     * BLAS products, as a backend does; a zero task vector gets weight 0.
     */
    public static GramMatrices of(int rows, int cols, List<float[]> taskVectors) {
        float[] c = new float[cols * cols];
        float[] d = new float[rows * cols];
        float[] tau0 = new float[rows * cols];
        float[] g = new float[cols * cols];
        double k = 0;
        for (float[] tau : taskVectors) {
            if (tau.length != rows * cols) {
                throw new IllegalArgumentException("task vector has " + tau.length + " values, expected " + rows * cols);
            }
            double norm2 = 0;
            for (int i = 0; i < tau.length; i++) {
                tau0[i] += tau[i];
                norm2 += (double) tau[i] * tau[i];
            }
            if (norm2 == 0) {
                continue;
            }
            float w = (float) (1.0 / norm2);
            Gemm.sgemm(true, false, cols, cols, rows, 1f, tau, tau, 0f, g); // G = tau^T tau
            symmetrise(g, cols);
            for (int i = 0; i < g.length; i++) {
                c[i] += w * g[i];
            }
            Gemm.sgemm(false, false, rows, cols, cols, w, tau, g, 1f, d); // D += w tau G
            double gg = 0;
            for (float x : g) {
                gg += (double) x * x;
            }
            k += w * gg; // ||tau tau^T||_F^2 = ||tau^T tau||_F^2
        }
        return new GramMatrices(rows, cols, c, d, tau0, k);
    }

    /**
     * Copies the upper triangle of the row-major [n, n] a onto its lower one. A GEMM computes G[i][j] and
     * G[j][i] in different lanes of its kernel, with another summation order or FMA contraction, so tau^T tau
     * can differ from its transpose in the last bit, and by how much depends on the kernel OpenBLAS picks
     * for the CPU (AVX-512 or AVX2). LAPACK reads one triangle and other solvers the other: mirrored, every
     * reader decomposes the same matrix, as the backends' SYRK-then-mirror C is.
     */
    static void symmetrise(float[] a, int n) {
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                a[j * n + i] = a[i * n + j];
            }
        }
    }

    /** L(tau) = &lt;tau C, tau&gt; - 2 &lt;tau, D&gt; + K (one GEMM, dot products in double). */
    public double loss(float[] tau) {
        float[] p = new float[rows * cols];
        Gemm.sgemm(false, false, rows, cols, cols, 1f, tau, c, 0f, p);
        double acc = 0;
        for (int i = 0; i < p.length; i++) {
            acc += ((double) p[i] - 2.0 * d[i]) * tau[i];
        }
        return acc + k;
    }

    /** grad L = 2 (tau C - D). */
    public float[] gradient(float[] tau) {
        float[] p = new float[rows * cols];
        Gemm.sgemm(false, false, rows, cols, cols, 1f, tau, c, 0f, p);
        for (int i = 0; i < p.length; i++) {
            p[i] = 2f * (p[i] - d[i]);
        }
        return p;
    }
}
