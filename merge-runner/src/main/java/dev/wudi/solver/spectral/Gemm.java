package dev.wudi.solver.spectral;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;

import dev.wudi.linalg.OpenBlasEnvironment;
import org.bytedeco.openblas.global.openblas;

/** Row-major float32 GEMM on heap arrays (OpenBLAS), for the spectral solvers and LoRA products. */
public final class Gemm {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private Gemm() {
    }

    /** C = alpha op(A) op(B) + beta C with op(A) [m, k], op(B) [k, n], C [m, n]. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, float[] b,
                      float beta, float[] c) {
        if (a.length < (long) m * k || b.length < (long) k * n || c.length < (long) m * n) { // guard
            throw new IllegalArgumentException("sgemm [" + m + ", " + k + "] x [" + k + ", " + n + "]: arrays of "
                    + a.length + ", " + b.length + ", " + c.length + " values are too small");
        }
        openblas.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, transA ? m : k, b, transB ? k : n, beta, c, n);
    }
}
