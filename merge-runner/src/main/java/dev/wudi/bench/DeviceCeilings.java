package dev.wudi.bench;

import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import java.util.Locale;

/**
 * The device's own ceilings, measured in the run that uses them (METHOD.md): a device-to-device copy (bytes read and
 * written per second) for memory, and a square cuBLAS SGEMM in fp32 and in tf32 for arithmetic, each the median of
 * event-timed runs. The first-principles floor of a piece of work is its flops and bytes at these rates
 * ({@link #floorSeconds}); a figure is then read as a share of its floor. Smaller copies and products than the defaults
 * understate the ceilings (and overstate nothing): for tests and the emulated driver.
 *
 * @param copyGbs      device-to-device copy, GB/s counting bytes read and written
 * @param sgemmGflops  cuBLAS SGEMM fp32, GFLOP/s
 * @param tf32Gflops   cuBLAS SGEMM with TF32 tensor cores, GFLOP/s
 * @param copyBytes    the copy measured
 * @param gemmSize     n of the n^3 product measured
 */
public record DeviceCeilings(double copyGbs, double sgemmGflops, double tf32Gflops, long copyBytes, int gemmSize) {

    /** The sizes that measure a GPU's ceilings: a 1 GiB copy and an 8192^3 product. */
    public static final long COPY_BYTES = 1L << 30;
    public static final int GEMM_SIZE = 8192;

    /** Measures on {@code stream} with {@code blas} (left in fp32 math). */
    public static DeviceCeilings measure(CudaDevice dev, CudaStream s, Cublas blas, DeviceTimer timer, long copyBytes,
                                         int gemmSize, int repeats) {
        double copyGbs;
        try (DeviceBuffer a = dev.allocate(copyBytes, "copy source"); DeviceBuffer b = dev.allocate(copyBytes, "copy target")) {
            KernelBench.fillRandom(a, copyBytes / 4, 1);
            double ms = timer.medianMs(2, repeats, () -> b.copyFromAsync(a, copyBytes, s));
            copyGbs = 2.0 * copyBytes / ms / 1e6;
        }
        int g = gemmSize;
        double sgemm;
        double tf32;
        try (DeviceBuffer a = dev.allocate(4L * g * g, "gemm a"); DeviceBuffer b = dev.allocate(4L * g * g, "gemm b");
             DeviceBuffer c = dev.allocate(4L * g * g, "gemm c")) {
            KernelBench.fillRandom(a, (long) g * g, 2);
            KernelBench.fillRandom(b, (long) g * g, 3);
            double flops = 2.0 * g * g * g;
            sgemm = flops / timer.medianMs(2, repeats, () -> blas.rowMajorTimesSquare(a, g, g, b, 1f, 0f, c, "bench")) / 1e6;
            blas.setTf32(true);
            try {
                tf32 = flops / timer.medianMs(2, repeats, () -> blas.rowMajorTimesSquare(a, g, g, b, 1f, 0f, c, "bench")) / 1e6;
            } finally {
                blas.setTf32(false);
            }
        }
        return new DeviceCeilings(copyGbs, sgemm, tf32, copyBytes, gemmSize);
    }

    /** GFLOP/s of the step GEMM at this precision. */
    public double gemmGflops(boolean tf32) {
        return tf32 ? tf32Gflops : sgemmGflops;
    }

    /**
     * Seconds for {@code gemmFlops} at the fp32 or tf32 rate, plus {@code fp32Flops} at the fp32 rate (the Gram form's
     * products, always fp32), plus {@code bytes} moved at the copy rate: the least the device can take for that work,
     * if nothing overlapped and every kernel ran at its ceiling.
     */
    public double floorSeconds(double gemmFlops, boolean tf32, double fp32Flops, double bytes) {
        return gemmFlops / (gemmGflops(tf32) * 1e9) + fp32Flops / (sgemmGflops * 1e9) + bytes / (copyGbs * 1e9);
    }

    /** "copy 2950 GB/s (1024 MiB), SGEMM fp32 51000 / tf32 380000 GFLOP/s (8192^3)". */
    public String describe() {
        return String.format(Locale.ROOT, "copy %.0f GB/s (%d MiB), SGEMM fp32 %.0f / tf32 %.0f GFLOP/s (%d^3)", copyGbs,
                copyBytes >> 20, sgemmGflops, tf32Gflops, gemmSize);
    }
}
