package dev.wudi.bench;

import dev.wudi.backend.Backend;
import dev.wudi.backend.Capability;
import dev.wudi.backend.WudiProblem;
import dev.wudi.solver.WudiResult;
import dev.wudi.backend.cuda.CudaBackend;
import dev.wudi.backend.cuda.Precision;
import dev.wudi.cuda.Cublas;
import dev.wudi.cuda.CudaDevice;
import dev.wudi.cuda.CudaStream;
import dev.wudi.solver.AdamConfig;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * End-to-end WUDI time on any {@link Backend} (so the CPU and the GPU are timed by the same code) over synthetic task
 * vectors shaped like real models, on the path a merge takes (WudiRule): where the backend queues solves
 * (Capability.ASYNCHRONOUS), tensor i's solve is queued, tensor i+1's problem is made and its task vectors added
 * (uploaded, folded into the Gram form) while i solves, then i's result is awaited. Before the clock starts, every
 * distinct shape goes through that path twice with one task and two steps (cuBLAS loads its kernels, the backend's
 * pools fill), and the task vectors are made (one set per distinct shape, reused by every tensor of that shape: the
 * device does not care what the numbers are). The clock covers everything from the first upload to the last download.
 * <p>
 * On a GPU the device's ceilings are measured in the same run ({@link DeviceCeilings}) and each figure is printed
 * beside its first-principles floor: the step products at the SGEMM rate of the precision, the Gram form's products
 * (3 r c^2 per task) at the fp32 rate, and FusedAdam's 32 bytes per element per step at the copy rate.
 * Lines starting with MERGEBENCH are meant to be parsed (key=value, space separated), as are the
 * PEER lines of tests/pytorch/wudi_peer.py on the same shapes.
 */
public final class MergeBench {

    private MergeBench() {
    }

    /** Model-shaped tensor sets ([rows, cols] = nn.Linear [out, in]). */
    public enum Workload {
        /** CLIP ViT-B/32 visual transformer: 12 blocks of in_proj, out_proj, c_fc, c_proj. */
        CLIP_VIT_B32("clip-vit-b32"),
        /** One LLaMA-7B decoder layer: q, k, v, o (4096x4096), gate, up (11008x4096), down (4096x11008). */
        LLAMA_7B_LAYER("llama-7b-layer");

        private final String flag;

        Workload(String flag) {
            this.flag = flag;
        }

        public String flag() {
            return flag;
        }

        public static Workload parse(String s) {
            for (Workload w : values()) {
                if (w.flag.equalsIgnoreCase(s) || w.name().equalsIgnoreCase(s)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("unknown workload '" + s + "' (clip-vit-b32 or llama-7b-layer)");
        }

        /** The tensor shapes, in order. */
        public List<int[]> shapes() {
            List<int[]> out = new ArrayList<>();
            if (this == CLIP_VIT_B32) {
                for (int b = 0; b < 12; b++) {
                    out.add(new int[] {2304, 768});
                    out.add(new int[] {768, 768});
                    out.add(new int[] {3072, 768});
                    out.add(new int[] {768, 3072});
                }
            } else {
                for (int i = 0; i < 4; i++) {
                    out.add(new int[] {4096, 4096});
                }
                out.add(new int[] {11008, 4096});
                out.add(new int[] {11008, 4096});
                out.add(new int[] {4096, 11008});
            }
            return out;
        }
    }

    /** Totals of one run. */
    public record Report(String backend, Workload workload, int tasks, int steps, double seconds, int tensors) {
    }

    /**
     * How to run a workload.
     *
     * @param maxTensors   at most this many tensors (0 = all), for a quick look at a slow backend
     * @param shrink       every dimension divided by this (1: the model's shapes), for rehearsals on the emulated driver
     * @param ceilingCopy  bytes of the copy that measures a GPU's bandwidth ceiling
     * @param ceilingGemm  n of the n^3 SGEMM that measures a GPU's arithmetic ceilings
     */
    public record Options(int tasks, AdamConfig config, long seed, int maxTensors, int shrink, long ceilingCopy,
                          int ceilingGemm) {

        public static Options of(int tasks, AdamConfig config, long seed, int maxTensors) {
            return new Options(tasks, config, seed, maxTensors, 1, DeviceCeilings.COPY_BYTES, DeviceCeilings.GEMM_SIZE);
        }
    }

    /**
     * Merges every tensor of {@code workload} with {@code tasks} random task vectors on {@code backend}.
     *
     * @param maxTensors at most this many tensors (0 = all), for a quick look at a slow backend
     */
    public static Report run(PrintStream out, Backend backend, Workload workload, int tasks, AdamConfig config,
                             long seed, int maxTensors) {
        return run(out, backend, workload, Options.of(tasks, config, seed, maxTensors));
    }

    public static Report run(PrintStream out, Backend backend, Workload workload, Options o) {
        out.println("# MergeBench " + workload.flag() + " on " + backend.describe());
        List<int[]> shapes = new ArrayList<>();
        for (int[] s : workload.shapes()) {
            shapes.add(new int[] {Math.max(1, s[0] / o.shrink()), Math.max(1, s[1] / o.shrink())});
        }
        if (o.maxTensors() > 0 && o.maxTensors() < shapes.size()) {
            shapes = shapes.subList(0, o.maxTensors());
        }
        int steps = o.config().iterations();
        boolean tf32 = backend instanceof CudaBackend cb && cb.precision() == Precision.TF32;
        DeviceCeilings ceil = backend instanceof CudaBackend cb ? ceilings(cb, o) : null;
        if (ceil != null) {
            out.println("# ceilings measured in this run: " + ceil.describe());
        }

        Map<String, List<float[]>> taus = new LinkedHashMap<>();   // one set per distinct shape
        SplittableRandom rnd = new SplittableRandom(o.seed());
        for (int[] s : shapes) {
            taus.computeIfAbsent(key(s), k -> {
                List<float[]> set = new ArrayList<>();
                for (int i = 0; i < o.tasks(); i++) {
                    set.add(randomTaskVector(s[0] * s[1], rnd.split()));
                }
                return set;
            });
        }

        long w0 = System.nanoTime();
        List<int[]> warm = new ArrayList<>();
        for (String k : taus.keySet()) {
            int[] s = parseKey(k);
            warm.add(s);
            warm.add(s);
        }
        pipeline(backend, warm, s -> taus.get(key(s)).subList(0, 1), o.config().withIterations(Math.min(2, steps)), null);
        out.printf(Locale.ROOT, "# warm-up: %d distinct shapes, each twice with 1 task and %d steps, untimed: %.2f s%n",
                taus.size(), Math.min(2, steps), (System.nanoTime() - w0) / 1e9);

        List<String> lines = new ArrayList<>();
        double[] total = new double[1];
        double[] floorTotal = new double[1];
        int[] index = {0};
        pipeline(backend, shapes, s -> taus.get(key(s)), o.config(), (shape, r, seconds) -> {
            int rows = shape[0];
            int cols = shape[1];
            total[0] += seconds;
            String floor = "";
            if (ceil != null) {
                double f = floorSeconds(ceil, tf32, rows, cols, o.tasks(), steps);
                floorTotal[0] += f;
                floor = String.format(Locale.ROOT, " floor_seconds=%.4f of_floor=%.2f", f, seconds / f);
            }
            lines.add(String.format(Locale.ROOT, "MERGEBENCH backend=%s workload=%s tasks=%d steps=%d tensor=%d"
                            + " shape=%dx%d seconds=%.4f%s loss_before=%.6e loss_after=%.6e", backend.name(), workload.flag(),
                    o.tasks(), steps, index[0]++, rows, cols, seconds, floor, r.lossBefore(), r.lossAfter()));
        });
        lines.forEach(out::println);
        double gemm = 0;
        double setup = 0;
        double bytes = 0;
        for (int[] s : shapes) {
            gemm += stepFlops(s[0], s[1]) * (steps + 1);
            setup += setupFlops(s[0], s[1], o.tasks());
            bytes += 32.0 * s[0] * s[1] * steps;
        }
        String floor = ceil == null ? "" : String.format(Locale.ROOT, " floor_seconds=%.4f of_floor=%.2f",
                floorTotal[0], total[0] / floorTotal[0]);
        out.printf(Locale.ROOT, "MERGEBENCH_TOTAL backend=%s workload=%s tasks=%d steps=%d tensors=%d seconds=%.4f%s"
                        + " step_gemm_tflop=%.3f setup_tflop=%.3f adam_gb=%.1f precision=%s%n", backend.name(), workload.flag(),
                o.tasks(), steps, shapes.size(), total[0], floor, gemm / 1e12, setup / 1e12, bytes / 1e9, tf32 ? "tf32" : "fp32");
        return new Report(backend.name(), workload, o.tasks(), steps, total[0], shapes.size());
    }

    /** What is told of each tensor as its result arrives: the seconds since the previous result (or the start). */
    private interface Done {
        void tensor(int[] shape, WudiResult r, double seconds);
    }

    /**
     * The tensors of {@code shapes} in a merge's order: queue i's solve, load i+1 while it runs, await i; on a backend
     * that cannot queue, one solve after another.
     */
    private static void pipeline(Backend backend, List<int[]> shapes, java.util.function.Function<int[], List<float[]>> taus,
                                 AdamConfig config, Done done) {
        if (shapes.isEmpty()) {
            return;
        }
        long last = System.nanoTime();
        boolean queues = backend.capabilities().contains(Capability.ASYNCHRONOUS);
        WudiProblem current = load(backend, shapes.get(0), taus);
        try {
            for (int i = 0; i < shapes.size(); i++) {
                WudiResult r;
                WudiProblem next = null;
                try {
                    if (queues && i + 1 < shapes.size()) {
                        WudiProblem.Pending pending = current.solveAdamAsync(config);
                        next = load(backend, shapes.get(i + 1), taus);
                        r = pending.await();
                    } else {
                        r = current.solveAdam(config, null);
                    }
                } finally {
                    current.close();
                }
                if (next == null && i + 1 < shapes.size()) {
                    next = load(backend, shapes.get(i + 1), taus);
                }
                long now = System.nanoTime();
                if (done != null) {
                    done.tensor(shapes.get(i), r, (now - last) / 1e9);
                }
                last = now;
                current = next;
            }
        } finally {
            if (current != null) {
                current.close();
            }
        }
    }

    private static WudiProblem load(Backend backend, int[] shape, java.util.function.Function<int[], List<float[]>> taus) {
        WudiProblem p = backend.newProblem("bench." + shape[0] + "x" + shape[1], shape[0], shape[1]);
        try {
            for (float[] t : taus.apply(shape)) {
                p.addTaskVector(t);
            }
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** One step's product P = tau_m C: 2 r c^2 flops. */
    static double stepFlops(int rows, int cols) {
        return 2.0 * rows * (double) cols * cols;
    }

    /** The Gram form per tensor: per task a SYRK (r c (c + 1)) and D's GEMM (2 r c^2), in fp32. */
    static double setupFlops(int rows, int cols, int tasks) {
        return tasks * (rows * (double) cols * (cols + 1) + 2.0 * rows * (double) cols * cols);
    }

    /**
     * The first-principles floor of one tensor: steps + 1 products (the last gives the loss after) at the step
     * GEMM's rate, the Gram form at the fp32 rate, and steps x 32 bytes per element through FusedAdam at the copy rate.
     */
    static double floorSeconds(DeviceCeilings ceil, boolean tf32, int rows, int cols, int tasks, int steps) {
        return ceil.floorSeconds(stepFlops(rows, cols) * (steps + 1), tf32, setupFlops(rows, cols, tasks),
                32.0 * rows * cols * steps);
    }

    private static DeviceCeilings ceilings(CudaBackend backend, Options o) {
        CudaDevice dev = backend.device();
        dev.makeCurrent();
        try (CudaStream s = dev.newStream(); Cublas blas = Cublas.create(dev, s); DeviceTimer timer = new DeviceTimer(dev, s)) {
            return DeviceCeilings.measure(dev, s, blas, timer, o.ceilingCopy(), o.ceilingGemm(), 5);
        }
    }

    private static String key(int[] s) {
        return s[0] + "x" + s[1];
    }

    private static int[] parseKey(String k) {
        String[] p = k.split("x");
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1])};
    }

    /** Uniform in [-0.005, 0.005): the size of fine-tuning deltas; cheap enough for 7B-sized tensors. */
    static float[] randomTaskVector(int n, SplittableRandom rnd) {
        float[] t = new float[n];
        for (int e = 0; e < n; e++) {
            t[e] = (float) ((rnd.nextDouble() - 0.5) * 0.01);
        }
        return t;
    }

    /** {@code MergeBench workload tasks [steps] [ordinal] [fp32|tf32] [maxTensors]} on the GPU. */
    public static void main(String[] args) {
        Workload w = Workload.parse(args.length > 0 ? args[0] : "clip-vit-b32");
        int tasks = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : AdamConfig.PAPER_ITERATIONS;
        int ordinal = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        boolean tf32 = args.length > 4 && args[4].equalsIgnoreCase("tf32");
        int max = args.length > 5 ? Integer.parseInt(args[5]) : 0;
        try (Backend b = dev.wudi.backend.cuda.CudaBackends.open(ordinal, tf32)) {
            run(System.out, b, w, tasks, AdamConfig.paper().withIterations(steps), 42, max);
        }
    }
}
