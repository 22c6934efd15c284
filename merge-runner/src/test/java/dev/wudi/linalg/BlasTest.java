package dev.wudi.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wudi.solver.TestTensors;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The OpenBLAS facade's shape and transpose conventions against plain loops. */
class BlasTest {

    private static double at(float[] x, int rowsStored, int colsStored, boolean trans, int r, int c) {
        return trans ? x[c * colsStored + r] : x[r * colsStored + c];
    }

    private interface LibC extends com.sun.jna.Library {
        String getenv(String name);
    }

    /**
     * Once Blas is loaded, the process environment OpenBLAS read holds OPENBLAS_THREAD_TIMEOUT: 4 where
     * the user set nothing (so its workers sleep between calls instead of spinning through the Adam pass),
     * the user's value otherwise. Read back through libc: System.getenv is a copy taken at JVM start.
     */
    @Test
    void openBlasWorkersSleepBetweenCalls() {
        Blas.threads();
        String expected = System.getenv(OpenBlasEnvironment.TIMEOUT_VARIABLE);
        LibC libc = com.sun.jna.Native.load(com.sun.jna.Platform.C_LIBRARY_NAME, LibC.class);
        assertEquals(expected != null ? expected : OpenBlasEnvironment.TIMEOUT_VALUE,
                libc.getenv(OpenBlasEnvironment.TIMEOUT_VARIABLE));
        assertEquals(OpenBlasEnvironment.TIMEOUT_VARIABLE + "=" + (expected != null ? expected + " (yours)"
                : OpenBlasEnvironment.TIMEOUT_VALUE), OpenBlasEnvironment.describe());
    }

    @Test
    void sgemmAllTransposes() {
        Random rnd = new Random(1);
        int m = 5;
        int n = 7;
        int k = 3;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                float[] a = TestTensors.gaussian(rnd, m * k, 1f);    // stored [m, k], or [k, m] when ta
                float[] b = TestTensors.gaussian(rnd, k * n, 1f);    // stored [k, n], or [n, k] when tb
                float[] c0 = TestTensors.gaussian(rnd, m * n, 1f);
                try (NativeFloats na = NativeFloats.of(a); NativeFloats nb = NativeFloats.of(b);
                     NativeFloats nc = NativeFloats.of(c0)) {
                    Blas.sgemm(ta, tb, m, n, k, 0.5f, na, nb, 2.0f, nc);
                    float[] c = nc.toArray();
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double want = 2.0 * c0[i * n + j];
                            for (int q = 0; q < k; q++) {
                                want += 0.5 * at(a, ta ? k : m, ta ? m : k, ta, i, q) * at(b, tb ? n : k, tb ? k : n, tb, q, j);
                            }
                            assertEquals(want, c[i * n + j], 1e-5, "ta=" + ta + " tb=" + tb + " at " + i + "," + j);
                        }
                    }
                }
            }
        }
    }

    /** The tiled mirror against the plain definition, on a size that is not a multiple of the tile. */
    @Test
    void mirrorCopiesTheUpperTriangleOntoTheLower() {
        int n = 150;
        float[] x = TestTensors.gaussian(new Random(3), n * n, 1f);
        try (NativeFloats c = NativeFloats.of(x)) {
            Blas.mirrorUpper(c, n);
            float[] got = c.toArray();
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    float want = j >= i ? x[i * n + j] : x[j * n + i];
                    assertEquals(want, got[i * n + j], "element " + i + "," + j);
                }
            }
        }
    }

    @Test
    void syrkUpperThenMirrorGivesTheFullGram() {
        int rows = 6;
        int cols = 4;
        float[] a = TestTensors.gaussian(new Random(2), rows * cols, 1f);
        try (NativeFloats na = NativeFloats.of(a); NativeFloats cols2 = new NativeFloats(cols * cols);
             NativeFloats rows2 = new NativeFloats(rows * rows)) {
            Blas.ssyrkUpper(true, cols, rows, 1.0f, na, 0.0f, cols2);     // A^T A
            Blas.mirrorUpper(cols2, cols);
            Blas.ssyrkUpper(false, rows, cols, 1.0f, na, 0.0f, rows2);    // A A^T
            Blas.mirrorUpper(rows2, rows);
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < cols; j++) {
                    double want = 0.0;
                    for (int r = 0; r < rows; r++) {
                        want += (double) a[r * cols + i] * a[r * cols + j];
                    }
                    assertEquals(want, cols2.buffer().get(i * cols + j), 1e-5);
                }
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < rows; j++) {
                    double want = 0.0;
                    for (int q = 0; q < cols; q++) {
                        want += (double) a[i * cols + q] * a[j * cols + q];
                    }
                    assertEquals(want, rows2.buffer().get(i * rows + j), 1e-5);
                }
            }
        }
    }

    @Test
    void sizeMismatchAndUseAfterCloseRejected() {
        try (NativeFloats a = new NativeFloats(6); NativeFloats c = new NativeFloats(4)) {
            assertThrows(IllegalArgumentException.class, () -> Blas.sgemm(false, false, 2, 2, 2, 1f, a, a, 0f, c));
        }
        NativeFloats x = new NativeFloats(3);
        x.close();
        x.close();
        assertThrows(IllegalStateException.class, x::buffer);
        assertThrows(IllegalArgumentException.class, () -> new NativeFloats(0));
    }
}
