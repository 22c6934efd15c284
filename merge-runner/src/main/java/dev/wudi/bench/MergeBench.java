package dev.wudi.bench;

import dev.wudi.backend.Backend;
import dev.wudi.backend.WudiProblem;
import dev.wudi.backend.WudiResult;
import dev.wudi.solver.AdamConfig;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * End-to-end WUDI time on any {@link Backend} (so the CPU and the GPU are timed by the same code) over
 * synthetic task vectors shaped like real models. Per tensor it times newProblem + the n addTaskVector
 * calls + solveAdam (uploads, Gram form, all steps, download), not the generation of the random task
 * vectors. Lines starting with MERGEBENCH are meant to be parsed (key=value, space separated), as are the
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
     * Merges every tensor of {@code workload} with {@code tasks} random task vectors on {@code backend}.
     *
     * @param maxTensors at most this many tensors (0 = all), for a quick look at a slow backend
     */
    public static Report run(PrintStream out, Backend backend, Workload workload, int tasks, AdamConfig config,
                             long seed, int maxTensors) {
        out.println("# MergeBench " + workload.flag() + " on " + backend.describe());
        List<int[]> shapes = workload.shapes();
        if (maxTensors > 0 && maxTensors < shapes.size()) {
            shapes = shapes.subList(0, maxTensors);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        double total = 0;
        int index = 0;
        for (int[] shape : shapes) {
            int rows = shape[0];
            int cols = shape[1];
            List<float[]> taus = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                taus.add(randomTaskVector(rows * cols, rnd.split()));
            }
            long t0 = System.nanoTime();
            WudiResult r;
            try (WudiProblem p = backend.newProblem("bench." + index, rows, cols)) {
                for (float[] t : taus) {
                    p.addTaskVector(t);
                }
                r = p.solveAdam(config, null);
            }
            double sec = (System.nanoTime() - t0) / 1e9;
            total += sec;
            out.printf(Locale.ROOT, "MERGEBENCH backend=%s workload=%s tasks=%d steps=%d tensor=%d shape=%dx%d seconds=%.4f"
                            + " loss_before=%.6e loss_after=%.6e%n", backend.name(), workload.flag(), tasks, config.iterations(),
                    index, rows, cols, sec, r.lossBefore(), r.lossAfter());
            index++;
        }
        out.printf(Locale.ROOT, "MERGEBENCH_TOTAL backend=%s workload=%s tasks=%d steps=%d tensors=%d seconds=%.4f%n",
                backend.name(), workload.flag(), tasks, config.iterations(), index, total);
        return new Report(backend.name(), workload, tasks, config.iterations(), total, index);
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
