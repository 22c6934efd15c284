package dev.wudi.backend.cuda;

import com.sun.jna.NativeLibrary;
import dev.wudi.backend.AsyncWudiProblem;
import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.backend.reference.GramFormReference;
import dev.wudi.cuda.CublasLocator;
import dev.wudi.cuda.CudaProbe;
import dev.wudi.solver.AdamConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Run in a child JVM by EmulatedGpuTest: loads the emulated driver and cuBLAS (java-bindings/src/test/c)
 * and drives the whole CUDA backend through them against the Java oracle. Prints "EMULATED OK" or throws.
 */
public final class EmulatedGpuMain {

    /** Held for the JVM's life: JNA closes a library whose NativeLibrary object is garbage-collected. */
    private static NativeLibrary driver;

    private EmulatedGpuMain() {
    }

    public static void main(String[] args) {
        driver = NativeLibrary.getInstance(args[0]);                 // its soname answers JCuda's need for libcuda.so.1
        System.setProperty(CublasLocator.PROPERTY, args[1]);
        CudaProbe.Result r = CudaBackends.probe();
        if (!r.available()) {
            System.out.println("SKIP " + r.reason());
            return;
        }
        try (Backend gpu = CudaBackends.open(0, false)) {
            System.out.println("DESCRIBE " + gpu.describe());
            int[][] cases = {{1, 1, 1}, {5, 3, 2}, {3, 17, 3}, {64, 48, 4}, {33, 130, 8}, {257, 31, 3}, {3, 2, 70}};
            for (int[] c : cases) {
                compare(gpu, c[0], c[1], tasks(c[2], c[0], c[1], c[0] * 31L + c[1]), 30);
            }
            List<float[]> withZero = tasks(2, 9, 7, 3);
            withZero.add(new float[63]);
            compare(gpu, 9, 7, withZero, 5);
            compare(gpu, 8, 8, tasks(3, 8, 8, 4), 0);
            listener(gpu);
            async(gpu);
            try {
                gpu.newProblem("huge.weight", 1 << 16, 1 << 16).close();
                throw new AssertionError("a 16 GiB problem fitted the 8 GiB emulated device");
            } catch (DeviceMemoryException expected) {
                check(expected.getMessage().startsWith("tensor huge.weight [65536, 65536] needs"), expected.getMessage());
            }
        }
        try (Backend tf32 = CudaBackends.open(0, true)) {
            check(tf32.describe().endsWith("step GEMM tf32"), tf32.describe());
            compare(tf32, 20, 12, tasks(3, 20, 12, 9), 10);
        }
        // The benchmark harness's plumbing (its figures mean nothing here).
        List<dev.wudi.bench.KernelBench.Row> rows = dev.wudi.bench.KernelBench.run(System.out, 0, 33, 20, 3, 1 << 20, 32);
        check(rows.size() == 18, "KernelBench rows: " + rows.size());
        System.out.println("EMULATED OK");
    }

    static List<float[]> tasks(int count, int rows, int cols, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            float[] t = new float[rows * cols];
            for (int e = 0; e < t.length; e++) {
                t[e] = (float) (0.02 * (1 + i % 5) * rnd.nextGaussian());
            }
            out.add(t);
        }
        return out;
    }

    static WudiResult solve(Backend b, int rows, int cols, List<float[]> taus, AdamConfig cfg) {
        try (WudiProblem p = b.newProblem("emulated.weight", rows, cols)) {
            taus.forEach(p::addTaskVector);
            check(p.taskCount() == taus.size(), "task count");
            return p.solveAdam(cfg, null);
        }
    }

    static void compare(Backend b, int rows, int cols, List<float[]> taus, int steps) {
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(steps);
        WudiResult got = solve(b, rows, cols, taus, cfg);
        GramFormReference.Solution want = GramFormReference.solve(rows, cols, taus, cfg);
        String what = "[" + rows + " x " + cols + "] x " + taus.size() + ", " + steps + " steps";
        // L = <P, tau> - 2 <D, tau> + K cancels to ~0 when one task dominates; its float32 rounding is
        // relative to the terms' size, which is at most sum_i ||tau_i||^2.
        double scale = 0;
        for (float[] t : taus) {
            for (float x : t) {
                scale += (double) x * x;
            }
        }
        close(want.lossBefore(), got.lossBefore(), 1e-4, 1e-6 * scale, what + " loss before");
        close(want.lossAfter(), got.lossAfter(), 1e-3, 1e-6 * scale, what + " loss after");
        float[] sum = new float[rows * cols];
        for (float[] t : taus) {
            for (int e = 0; e < sum.length; e++) {
                sum[e] += t[e];
            }
        }
        double num = 0, den = 0;
        for (int e = 0; e < sum.length; e++) {
            double dw = (double) want.tauM()[e] - sum[e];
            num += Math.pow((double) got.tauM()[e] - want.tauM()[e], 2);
            den += dw * dw;
        }
        double err = steps == 0 ? Math.sqrt(num) : Math.sqrt(num / Math.max(den, 1e-300));
        check(err < 1e-2, what + ": tau_m displacement error " + err);
        check(got.steps() == steps, what + ": steps");
        System.out.printf("CASE %s loss %.6e -> %.6e error %.2e%n", what, got.lossBefore(), got.lossAfter(), err);
    }

    static void listener(Backend gpu) {
        List<float[]> taus = tasks(3, 20, 12, 2);
        AdamConfig cfg = AdamConfig.paper().withLr(1e-3f).withIterations(10);
        List<Integer> steps = new ArrayList<>();
        List<Double> losses = new ArrayList<>();
        try (WudiProblem p = gpu.newProblem("listener.weight", 20, 12)) {
            taus.forEach(p::addTaskVector);
            WudiResult r = p.solveAdam(cfg, (t, loss) -> {
                steps.add(t);
                losses.add(loss);
            });
            check(steps.equals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), "listener steps " + steps);
            check(losses.get(0) == r.lossBefore(), "listener's first loss is lossBefore");
        }
        GramFormReference.Solution want = GramFormReference.solve(20, 12, taus, cfg);
        for (int t = 0; t < 10; t++) {
            close(want.losses()[t], losses.get(t), 1e-4, 0, "listener loss at step " + (t + 1));
        }
    }

    static void async(Backend gpu) {
        List<float[]> a = tasks(3, 40, 30, 21);
        List<float[]> b = tasks(3, 30, 40, 22);
        AdamConfig cfg = AdamConfig.paper().withIterations(12);
        WudiResult wantA = solve(gpu, 40, 30, a, cfg);
        WudiResult wantB = solve(gpu, 30, 40, b, cfg);
        try (WudiProblem pa = gpu.newProblem("a.weight", 40, 30); WudiProblem pb = gpu.newProblem("b.weight", 30, 40)) {
            a.forEach(pa::addTaskVector);
            AsyncWudiProblem.Pending pending = ((AsyncWudiProblem) pa).solveAdamAsync(cfg);
            try {
                pa.addTaskVector(a.get(0));
                throw new AssertionError("adding to a problem with a queued solve must fail");
            } catch (IllegalStateException expected) {
                // the queued solve owns the problem's buffers
            }
            b.forEach(pb::addTaskVector);
            WudiResult gotA = pending.await();
            WudiResult gotB = pb.solveAdam(cfg, null);
            check(java.util.Arrays.equals(wantA.tauM(), gotA.tauM()), "async A differs from sync A");
            check(java.util.Arrays.equals(wantB.tauM(), gotB.tauM()), "B after async A differs");
        }
    }

    static void close(double want, double got, double rtol, double atol, String what) {
        check(Math.abs(want - got) <= rtol * Math.abs(want) + atol + 1e-15, what + ": want " + want + " got " + got);
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }
}
