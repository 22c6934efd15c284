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
 * Times every kernel and the per-step GEMM at one or more [rows, cols] shapes and sets each against the device's
 * own ceilings, measured in the same run ({@link DeviceCeilings}, METHOD.md): a device-to-device copy (bytes read +
 * written) for bandwidth, and a large cuBLAS SGEMM, fp32 and tf32, for arithmetic. Inputs are random, never zeros.
 * Each figure is the median of {@code repeats} samples after warm-up, each sample a batch of launches between two
 * events (DeviceTimer.msPerLaunch), so a microsecond kernel is not lost in the host's launch gaps. Bytes are the
 * fewest the kernel must move (each input read once, each output written once); beside each figure its floor, the
 * work at the ceiling, and the share of it reached.
 */
public final class KernelBench {

    private KernelBench() {
    }

    /**
     * One row of the table.
     *
     * @param floorMs the least the work can take at the device's ceilings (bytes at the copy rate, flops at the
     *                SGEMM rate of the row's precision)
     */
    public record Row(String what, String shape, double ms, double gbPerS, double gflopPerS, double floorMs) {
    }

    /** Runs the whole table at one shape on GPU {@code ordinal}; returns the rows (also printed to {@code out}). */
    public static List<Row> run(PrintStream out, int ordinal, int rows, int cols, int repeats) {
        return run(out, ordinal, List.of(new int[] {rows, cols}), repeats, DeviceCeilings.COPY_BYTES,
                DeviceCeilings.GEMM_SIZE);
    }

    /**
     * As {@link #run(PrintStream, int, int, int, int)} with the ceilings measured on a {@code copyBytes}
     * copy and a {@code gemmSize}^3 SGEMM (smaller ones understate the ceilings; for tests).
     */
    public static List<Row> run(PrintStream out, int ordinal, int rows, int cols, int repeats, long copyBytes, int gemmSize) {
        return run(out, ordinal, List.of(new int[] {rows, cols}), repeats, copyBytes, gemmSize);
    }

    /** The table at every shape of {@code shapes} ([rows, cols] each), the ceilings measured once. */
    public static List<Row> run(PrintStream out, int ordinal, List<int[]> shapes, int repeats, long copyBytes, int gemmSize) {
        ProbeResult probe = CudaProbe.probe();
        if (!probe.available()) {
            throw new IllegalStateException(probe.reason());
        }
        List<Row> table = new ArrayList<>();
        try (CudaDevice dev = CudaDevice.open(ordinal);
             KernelModule module = KernelModule.load(dev);
             CudaStream s = dev.newStream();
             Cublas blas = Cublas.create(dev, s);
             DeviceTimer timer = new DeviceTimer(dev, s)) {
            WudiKernels k = new WudiKernels(module);
            out.println("# KernelBench on " + dev.describe() + ", cuBLAS " + blas.version() + " (" + Cublas.hotPathBinding()
                    + " binding), median of " + repeats + " event-timed batches");
            DeviceCeilings ceil = DeviceCeilings.measure(dev, s, blas, timer, copyBytes, gemmSize, repeats);
            out.println("# ceilings: " + ceil.describe());
            table.add(new Row("ceiling: device-to-device copy " + (copyBytes >> 20) + " MiB", "-",
                    2.0 * copyBytes / ceil.copyGbs() / 1e6, ceil.copyGbs(), 0, 2.0 * copyBytes / ceil.copyGbs() / 1e6));
            double g3 = 2.0 * gemmSize * gemmSize * (double) gemmSize;
            table.add(new Row("ceiling: cuBLAS SGEMM fp32 " + gemmSize + "^3", "-", g3 / ceil.sgemmGflops() / 1e6, 0,
                    ceil.sgemmGflops(), g3 / ceil.sgemmGflops() / 1e6));
            table.add(new Row("ceiling: cuBLAS SGEMM tf32 " + gemmSize + "^3", "-", g3 / ceil.tf32Gflops() / 1e6, 0,
                    ceil.tf32Gflops(), g3 / ceil.tf32Gflops() / 1e6));
            for (int[] shape : shapes) {
                table.addAll(shape(dev, s, blas, timer, k, ceil, shape[0], shape[1], repeats));
            }
            print(out, table);
        }
        return table;
    }

    /** The engine's kernels and products at one shape. */
    private static List<Row> shape(CudaDevice dev, CudaStream s, Cublas blas, DeviceTimer timer, WudiKernels k,
                                   DeviceCeilings ceil, int rows, int cols, int repeats) {
        List<Row> table = new ArrayList<>();
        long n = (long) rows * cols;
        long cc = (long) cols * cols;
        String shape = rows + "x" + cols;
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
            WudiKernels.AdamSteps adam = k.adamSteps(p, d, m, v, tau, n, partials);
            table.add(mem(timer, ceil, repeats, "FusedAdam (+ loss partials)", shape, 32 * n,
                    () -> adam.launch(sc, true, s)));
            table.add(mem(timer, ceil, repeats, "FusedAdam (no loss: most steps)", shape, 32 * n,
                    () -> adam.launch(sc, false, s)));
            table.add(mem(timer, ceil, repeats, "InterferenceLoss (2 passes)", shape, 12 * n, () -> {
                int parts = k.interferenceLossPartials(p, d, tau, n, partials, s);
                k.reducePartials(partials, parts, out1, 0, s);
            }));
            table.add(mem(timer, ceil, repeats, "SquaredNorm (2 passes)", shape, 4 * n, () -> {
                int parts = k.squaredNormPartials(tau, n, partials, s);
                k.reducePartials(partials, parts, out1, 0, s);
            }));
            table.add(mem(timer, ceil, repeats, "TaskVector f32", shape, 12 * n, () -> k.taskVectorF32(p, d, tau, n, s)));
            table.add(mem(timer, ceil, repeats, "TaskVector bf16", shape, 8 * n, () -> k.taskVectorBf16(half1, half0, tau, n, s)));
            table.add(mem(timer, ceil, repeats, "TaskVector f16", shape, 8 * n, () -> k.taskVectorF16(half1, half0, tau, n, s)));
            table.add(mem(timer, ceil, repeats, "convert f32 -> bf16", shape, 6 * n, () -> k.f32ToBf16(p, half0, n, s)));
            table.add(mem(timer, ceil, repeats, "convert f32 -> f16", shape, 6 * n, () -> k.f32ToF16(p, half0, n, s)));
            table.add(mem(timer, ceil, repeats, "convert bf16 -> f32", shape, 6 * n, () -> k.bf16ToF32(half1, tau, n, s)));
            table.add(mem(timer, ceil, repeats, "convert f16 -> f32", shape, 6 * n, () -> k.f16ToF32(half1, tau, n, s)));
            table.add(mem(timer, ceil, repeats, "symmetrize C", cols + "x" + cols, 4 * cc, () -> k.symmetrizeFromUpper(c, cols, s)));
            double stepFlops = 2.0 * rows * (double) cols * cols;
            table.add(flop(timer, ceil, false, repeats, "step GEMM P = tau C fp32", shape, stepFlops,
                    () -> blas.rowMajorTimesSquare(tau, rows, cols, c, 1f, 0f, p, "bench")));
            blas.setTf32(true);
            try {
                table.add(flop(timer, ceil, true, repeats, "step GEMM P = tau C tf32", shape, stepFlops,
                        () -> blas.rowMajorTimesSquare(tau, rows, cols, c, 1f, 0f, p, "bench")));
            } finally {
                blas.setTf32(false);
            }
            table.add(flop(timer, ceil, false, repeats, "SYRK G = tau^T tau", shape, rows * (double) cols * (cols + 1),
                    () -> blas.gramUpper(tau, rows, cols, c, "bench")));
            // one whole step as the solve runs it: the product, then the fused pass without the loss
            table.add(step(timer, ceil, repeats, shape, stepFlops, 32 * n, () -> {
                blas.rowMajorTimesSquare(tau, rows, cols, c, 1f, 0f, p, "bench");
                adam.launch(sc, false, s);
            }));
        }
        return table;
    }

    private static Row mem(DeviceTimer t, DeviceCeilings ceil, int repeats, String what, String shape, long bytes, Runnable r) {
        double ms = t.msPerLaunch(3, repeats, r);
        return new Row(what, shape, ms, bytes / ms / 1e6, 0, bytes / ceil.copyGbs() / 1e6);
    }

    private static Row flop(DeviceTimer t, DeviceCeilings ceil, boolean tf32, int repeats, String what, String shape,
                            double flops, Runnable r) {
        double ms = t.msPerLaunch(2, repeats, r);
        return new Row(what, shape, ms, 0, flops / ms / 1e6, flops / ceil.gemmGflops(tf32) / 1e6);
    }

    private static Row step(DeviceTimer t, DeviceCeilings ceil, int repeats, String shape, double flops, long bytes,
                            Runnable r) {
        double ms = t.msPerLaunch(2, repeats, r);
        return new Row("one Adam step fp32 (GEMM + FusedAdam)", shape, ms, bytes / ms / 1e6, flops / ms / 1e6,
                1e3 * ceil.floorSeconds(flops, false, 0, bytes));
    }

    private static void print(PrintStream out, List<Row> table) {
        out.printf(Locale.ROOT, "%-40s %-12s %10s %10s %12s %10s %7s%n", "what", "shape", "ms", "GB/s", "GFLOP/s",
                "floor ms", "%floor");
        for (Row r : table) {
            out.printf(Locale.ROOT, "%-40s %-12s %10.4f %10s %12s %10.4f %6.0f%%%n", r.what(), r.shape(), r.ms(),
                    r.gbPerS() > 0 ? String.format(Locale.ROOT, "%.1f", r.gbPerS()) : "",
                    r.gflopPerS() > 0 ? String.format(Locale.ROOT, "%.0f", r.gflopPerS()) : "",
                    r.floorMs(), 100 * r.floorMs() / r.ms());
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
