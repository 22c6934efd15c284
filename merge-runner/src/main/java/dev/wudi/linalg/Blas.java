package dev.wudi.linalg;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;
import static org.bytedeco.openblas.global.openblas.CblasUpper;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;

/**
 * The only class that calls OpenBLAS (bytedeco presets). Everything is row-major float32 on
 * {@link NativeFloats}; shapes are given as in the math, leading dimensions are the row lengths.
 */
public final class Blas {

    static {
        OpenBlasEnvironment.prepare();                  // before openblas loads and reads its environment
    }

    private Blas() {
    }

    /**
     * Sets OpenBLAS's thread count for the whole process (OpenBLAS keeps one global pool).
     *
     * @param threads 0 for all available cores
     * @return the thread count now in use
     */
    public static int setThreads(int threads) {
        int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
        openblas.blas_set_num_threads(n);
        return openblas.blas_get_num_threads();
    }

    public static int threads() {
        return openblas.blas_get_num_threads();
    }

    /**
     * "OpenBLAS 0.3.31-1.5.13, 2 threads, OPENBLAS_THREAD_TIMEOUT=4". The presets map neither
     * openblas_get_config nor openblas_get_corename, and OPENBLAS_CHAR_CORENAME is only the build baseline
     * of a dynamic-arch library (it says NEHALEM on an AVX-512 machine), so the kernel in use is not reported.
     */
    public static String describe() {
        Loader.load(openblas.class);
        String version;
        try {
            version = Loader.getVersion("org.bytedeco", "openblas");
        } catch (java.io.IOException ex) {
            version = null;
        }
        return "OpenBLAS " + (version == null ? "(unknown version)" : version) + ", " + threads() + " threads, "
                + OpenBlasEnvironment.describe();
    }

    /**
     * C = alpha * op(A) op(B) + beta * C, with op(A) [m, k], op(B) [k, n], C [m, n], all row-major.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k,
                             float alpha, NativeFloats a, NativeFloats b, float beta, NativeFloats c) {
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        checkSize(a, (long) m * k, "A");
        checkSize(b, (long) k * n, "B");
        checkSize(c, (long) m * n, "C");
        openblas.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a.pointer(), lda, b.pointer(), ldb, beta, c.pointer(), n);
    }

    /**
     * The upper triangle of C [n, n] = alpha * A^T A + beta * C for A [k, n] (gramOfColumns), or
     * alpha * A A^T + beta * C for A [n, k] (Gram of rows). The strict lower triangle is not touched:
     * call {@link #mirrorUpper} before reading it.
     */
    public static void ssyrkUpper(boolean gramOfColumns, int n, int k, float alpha, NativeFloats a,
                                  float beta, NativeFloats c) {
        checkSize(a, (long) n * k, "A");
        checkSize(c, (long) n * n, "C");
        openblas.cblas_ssyrk(CblasRowMajor, CblasUpper, gramOfColumns ? CblasTrans : CblasNoTrans,
                n, k, alpha, a.pointer(), gramOfColumns ? n : k, beta, c.pointer(), n);
    }

    /** Tile edge of {@link #mirrorUpper}: two 64 x 64 float tiles (32 KiB) stay in a core's L1/L2 cache. */
    private static final int MIRROR_TILE = 64;

    /**
     * Copies the upper triangle of the [n, n] matrix c onto its lower triangle, one tile pair at a time:
     * the transposed writes of a plain double loop stride by a whole row each, which took 36 ms for a
     * 3072 x 3072 C on the development machine (tiled: 19 ms).
     */
    public static void mirrorUpper(NativeFloats c, int n) {
        checkSize(c, (long) n * n, "C");
        java.nio.FloatBuffer b = c.buffer();
        for (int i0 = 0; i0 < n; i0 += MIRROR_TILE) {
            int i1 = Math.min(n, i0 + MIRROR_TILE);
            for (int j0 = i0; j0 < n; j0 += MIRROR_TILE) {
                int j1 = Math.min(n, j0 + MIRROR_TILE);
                for (int i = i0; i < i1; i++) {
                    for (int j = Math.max(j0, i + 1); j < j1; j++) {
                        b.put(j * n + i, b.get(i * n + j));
                    }
                }
            }
        }
    }

    private static void checkSize(NativeFloats x, long needed, String what) {
        if (x.length() != needed) {
            throw new IllegalArgumentException(what + " has " + x.length() + " floats, the product needs " + needed);
        }
    }
}
