package dev.wudi.bench;

import dev.wudi.adam.AdamStepScalars;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaProbe;
import dev.wudi.cuda.ProbeResult;
import dev.wudi.cuda.CudaStream;
import dev.wudi.cuda.DeviceBuffer;
import dev.wudi.cuda.KernelModule;
import dev.wudi.cuda.WudiKernels;
import dev.wudi.cuda.reference.HalfPrecision;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Times every kernel and the per-step GEMM at one [rows, cols] shape and sets each against the device's
 * own ceilings, measured in the same run (METHOD.md): a 1 GiB device-to-device copy (bytes read + written)
 * for bandwidth, and an 8192^3 cuBLAS SGEMM, fp32 and tf32, for arithmetic. Inputs are random, never zeros.
 * Each figure is the median of {@code repeats} event-timed runs after warm-up. Bytes are the fewest the
 * kernel must move (each input read once, each output written once).
 */
public final class KernelBench {

    private KernelBench() {
    }

    /** One row of the table. */
    public record Row(String what, String shape, double ms, double gbPerS, double gflopPerS) {
    }

    /** Runs the whole table on GPU {@code ordinal}; returns the rows (also printed to {@code out}). */
    public static List<Row> run(PrintStream out, int ordinal, int rows, int cols, int repeats) {
        return run(out, ordinal, rows, cols, repeats, 1L << 30, 8192);
    }

    /**
     * As {@link #run(PrintStream, int, int, int, int)} with the ceilings measured on a {@code copyBytes}
     * copy and a {@code gemmSize}^3 SGEMM (smaller ones understate the ceilings; for tests).
     */
    public static List<Row> run(PrintStream out, int ordinal, int rows, int cols, int repeats, long copyBytes, int gemmSize) {
        ProbeResult probe = CudaProbe.probe();
        if (!probe.available()) {
            throw new IllegalStateException(probe.reason());
        }
        List<Row> table = new ArrayList<>();
        long n = (long) rows * cols;
        long cc = (long) cols * cols;
        String shape = rows + "x" + cols;
        try (CudaDevice dev = CudaDevice.open(ordinal);
             KernelModule module = KernelModule.load(dev);
             CudaStream s = dev.newStream();
             Cublas blas = Cublas.create(dev, s);
             DeviceTimer timer = new DeviceTimer(dev, s)) {
            WudiKernels k = new WudiKernels(module);
            out.println("# KernelBench on " + dev.describe() + ", cuBLAS " + blas.version() + ", median of " + repeats);

            // ---- ceilings ----
            double copyGbs;
            try (DeviceBuffer a = dev.allocate(copyBytes, "copy source"); DeviceBuffer b = dev.allocate(copyBytes, "copy target")) {
                fillRandom(a, copyBytes / 4, 1);
                double ms = timer.medianMs(2, repeats, () -> b.copyFromAsync(a, copyBytes, s));
                copyGbs = 2.0 * copyBytes / ms / 1e6;
                table.add(new Row("ceiling: device-to-device copy " + (copyBytes >> 20) + " MiB", "-", ms, copyGbs, 0));
            }
            int g = gemmSize;
            double sgemm;
            double tf32;
            try (DeviceBuffer a = dev.allocate(4L * g * g, "gemm a"); DeviceBuffer b = dev.allocate(4L * g * g, "gemm b");
                 DeviceBuffer c = dev.allocate(4L * g * g, "gemm c")) {
                fillRandom(a, (long) g * g, 2);
                fillRandom(b, (long) g * g, 3);
                double flops = 2.0 * g * g * g;
                double ms = timer.medianMs(2, repeats, () -> blas.rowMajorTimesSquare(a, g, g, b, 1f, 0f, c, "bench"));
                sgemm = flops / ms / 1e6;
                table.add(new Row("ceiling: cuBLAS SGEMM fp32 " + g + "^3", "-", ms, 0, sgemm));
                blas.setTf32(true);
                double msT = timer.medianMs(2, repeats, () -> blas.rowMajorTimesSquare(a, g, g, b, 1f, 0f, c, "bench"));
                blas.setTf32(false);
                tf32 = flops / msT / 1e6;
                table.add(new Row("ceiling: cuBLAS SGEMM tf32 " + g + "^3", "-", msT, 0, tf32));
            }

            // ---- the engine's kernels and products at this shape ----
            try (DeviceBuffer p = dev.allocate(4 * n, "P"); DeviceBuffer d = dev.allocate(4 * n, "D");
                 DeviceBuffer m = dev.allocate(4 * n, "m"); DeviceBuffer v = dev.allocate(4 * n, "v");
                 DeviceBuffer tau = dev.allocate(4 * n, "tau"); DeviceBuffer half0 = dev.allocate(2 * n, "w0 16-bit");
                 DeviceBuffer half1 = dev.allocate(2 * n, "wi 16-bit"); DeviceBuffer c = dev.allocate(4 * cc, "C");
                 DeviceBuffer partials = dev.allocate(WudiKernels.PARTIALS_BYTES, "partials");
                 DeviceBuffer out1 = dev.allocate(8, "reduced")) {
                fillRandom(p, n, 4);
                fillRandom(d, n, 5);
                fillRandom(m, n, 6);
                fillRandom(tau, n, 7);
                fillRandomPositive(v, n, 8);
                fillRandom(c, cc, 9);
                fillRandomBf16(half0, n, 10);
                fillRandomBf16(half1, n, 11);
                AdamStepScalars sc = AdamStepScalars.forStep(1e-5f, 0.9f, 0.999f, 1e-8f, 10);
                table.add(mem(timer, repeats, "FusedAdam (+ loss partials)", shape, 32 * n,
                        () -> k.fusedAdam(p, d, m, v, tau, n, sc, partials, s)));
                table.add(mem(timer, repeats, "FusedAdam (no loss)", shape, 32 * n,
                        () -> k.fusedAdam(p, d, m, v, tau, n, sc, null, s)));
                table.add(mem(timer, repeats, "InterferenceLoss (2 passes)", shape, 12 * n, () -> {
                    int parts = k.interferenceLossPartials(p, d, tau, n, partials, s);
                    k.reducePartials(partials, parts, out1, 0, s);
                }));
                table.add(mem(timer, repeats, "SquaredNorm (2 passes)", shape, 4 * n, () -> {
                    int parts = k.squaredNormPartials(tau, n, partials, s);
                    k.reducePartials(partials, parts, out1, 0, s);
                }));
                table.add(mem(timer, repeats, "TaskVector f32", shape, 12 * n, () -> k.taskVectorF32(p, d, tau, n, s)));
                table.add(mem(timer, repeats, "TaskVector bf16", shape, 8 * n, () -> k.taskVectorBf16(half1, half0, tau, n, s)));
                table.add(mem(timer, repeats, "TaskVector f16", shape, 8 * n, () -> k.taskVectorF16(half1, half0, tau, n, s)));
                table.add(mem(timer, repeats, "convert f32 -> bf16", shape, 6 * n, () -> k.f32ToBf16(p, half0, n, s)));
                table.add(mem(timer, repeats, "convert f32 -> f16", shape, 6 * n, () -> k.f32ToF16(p, half0, n, s)));
                table.add(mem(timer, repeats, "convert bf16 -> f32", shape, 6 * n, () -> k.bf16ToF32(half1, tau, n, s)));
                table.add(mem(timer, repeats, "convert f16 -> f32", shape, 6 * n, () -> k.f16ToF32(half1, tau, n, s)));
                table.add(mem(timer, repeats, "symmetrize C", cols + "x" + cols, 4 * cc, () -> k.symmetrizeFromUpper(c, cols, s)));
                double stepFlops = 2.0 * rows * (double) cols * cols;
                table.add(flop(timer, repeats, "step GEMM P = tau C fp32", shape, stepFlops,
                        () -> blas.rowMajorTimesSquare(tau, rows, cols, c, 1f, 0f, p, "bench")));
                blas.setTf32(true);
                table.add(flop(timer, repeats, "step GEMM P = tau C tf32", shape, stepFlops,
                        () -> blas.rowMajorTimesSquare(tau, rows, cols, c, 1f, 0f, p, "bench")));
                blas.setTf32(false);
                table.add(flop(timer, repeats, "SYRK G = tau^T tau", shape, rows * (double) cols * (cols + 1),
                        () -> blas.gramUpper(tau, rows, cols, c, "bench")));
            }
            print(out, table, copyGbs, sgemm, tf32);
        }
        return table;
    }

    private static Row mem(DeviceTimer t, int repeats, String what, String shape, long bytes, Runnable r) {
        double ms = t.medianMs(3, repeats, r);
        return new Row(what, shape, ms, bytes / ms / 1e6, 0);
    }

    private static Row flop(DeviceTimer t, int repeats, String what, String shape, double flops, Runnable r) {
        double ms = t.medianMs(2, repeats, r);
        return new Row(what, shape, ms, 0, flops / ms / 1e6);
    }

    private static void print(PrintStream out, List<Row> table, double copyGbs, double sgemm, double tf32) {
        out.printf(Locale.ROOT, "%-38s %-12s %10s %10s %8s %12s %8s%n", "what", "shape", "ms", "GB/s", "%copy", "GFLOP/s", "%sgemm");
        for (Row r : table) {
            out.printf(Locale.ROOT, "%-38s %-12s %10.4f %10s %8s %12s %8s%n", r.what(), r.shape(), r.ms(),
                    r.gbPerS() > 0 ? String.format(Locale.ROOT, "%.1f", r.gbPerS()) : "",
                    r.gbPerS() > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * r.gbPerS() / copyGbs) : "",
                    r.gflopPerS() > 0 ? String.format(Locale.ROOT, "%.0f", r.gflopPerS()) : "",
                    r.gflopPerS() > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * r.gflopPerS()
                            / (r.what().contains("tf32") ? tf32 : sgemm)) : "");
        }
    }

    static void fillRandom(DeviceBuffer b, long count, long seed) {
        fill(b, count, seed, false);
    }

    static void fillRandomPositive(DeviceBuffer b, long count, long seed) {
        fill(b, count, seed, true);
    }

    private static void fill(DeviceBuffer b, long count, long seed, boolean positive) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int chunk = 1 << 22;
        float[] x = new float[(int) Math.min(count, chunk)];
        for (int i = 0; i < x.length; i++) {
            float u = (float) rnd.nextGaussian();
            x[i] = positive ? Math.abs(u) * 1e-3f : u;
        }
        // The same random chunk repeated: enough for timing, and far cheaper than count Gaussians.
        for (long off = 0; off < count; off += x.length) {
            int len = (int) Math.min(x.length, count - off);
            b.uploadAt(4 * off, x, len);
        }
    }

    static void fillRandomBf16(DeviceBuffer b, long count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int chunk = 1 << 22;
        short[] x = new short[(int) Math.min(count, chunk)];
        for (int i = 0; i < x.length; i++) {
            x[i] = HalfPrecision.floatToBf16((float) rnd.nextGaussian());
        }
        for (long off = 0; off < count; off += x.length) {
            int len = (int) Math.min(x.length, count - off);
            b.uploadAt(2 * off, x, len);
        }
    }

    /** {@code KernelBench [ordinal] [rows] [cols] [repeats]}; defaults 0 4096 4096 20. */
    public static void main(String[] args) {
        int ordinal = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        int rows = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
        int cols = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        run(System.out, ordinal, rows, cols, repeats);
    }
}
