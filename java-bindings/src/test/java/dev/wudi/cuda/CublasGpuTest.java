package dev.wudi.cuda;

import static dev.wudi.cuda.GpuFixture.device;
import static dev.wudi.cuda.GpuFixture.kernels;
import static dev.wudi.cuda.GpuFixture.stream;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The row-major to column-major mapping of each cuBLAS call, against products in double. Needs a GPU. */
class CublasGpuTest {

    private final SplittableRandom rnd = new SplittableRandom(System.nanoTime());

    @BeforeEach
    void needGpu() {
        GpuFixture.require(true);
    }

    @AfterAll
    static void release() {
        GpuFixture.release();
    }

    private float[] gaussian(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static double relErr(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += Math.pow(got[i] - want[i], 2);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }

    @ParameterizedTest(name = "[{0} x {1}]")
    @CsvSource({"1, 1", "3, 7", "7, 3", "64, 200", "300, 96"})
    void productsInRowMajorTerms(int rows, int cols) {
        float[] a = gaussian(rows * cols), s = gaussian(cols * cols), acc = gaussian(rows * cols);
        double[] want = new double[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < cols; j++) {
                double x = 0.5 * acc[r * cols + j];
                for (int q = 0; q < cols; q++) {
                    x += 2.0 * a[r * cols + q] * s[q * cols + j];   // s is NOT symmetric: checks the mapping
                }
                want[r * cols + j] = x;
            }
        }
        double[] gram = new double[cols * cols];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < cols; j++) {
                    gram[i * cols + j] += (double) a[r * cols + i] * a[r * cols + j];
                }
            }
        }
        try (Cublas blas = Cublas.create(device, stream);
             DeviceBuffer da = device.allocate(4L * rows * cols, "a"); DeviceBuffer ds = device.allocate(4L * cols * cols, "s"); DeviceBuffer dout = device.allocate(4L * rows * cols, "out"); DeviceBuffer dg = device.allocate(4L * cols * cols, "G")) {
            da.upload(a);
            ds.upload(s);
            dout.upload(acc);
            blas.rowMajorTimesSquare(da, rows, cols, ds, 2f, 0.5f, dout, "test");
            blas.gramUpper(da, rows, cols, dg, "test");
            kernels.symmetrizeFromUpper(dg, cols, stream);
            stream.synchronize("test");
            float[] out = new float[rows * cols];
            dout.download(out);
            float[] g = new float[cols * cols];
            dg.download(g);
            double e1 = relErr(out, want);
            double e2 = relErr(g, gram);
            assertTrue(e1 < 1e-5, "a*s relative error " + e1);
            assertTrue(e2 < 1e-5, "tau^T tau relative error " + e2);
            assertTrue(blas.version() >= 120000, "cuBLAS version " + blas.version());
        }
    }
}
