package dev.wudi.bench;

import dev.wudi.backend.WudiProblem;
import dev.wudi.linalg.Blas;
import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.linalg.NativeFloats;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.LiteralWudi;
import dev.wudi.solver.StepListener;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Times one Adam step of WUDI-Merging on CLIP ViT-B/32 layer shapes: the one-GEMM Gram form
 * (CpuWudiProblem) against the literal 2n-product formula (LiteralWudi) and against a bare OpenBLAS
 * sgemm of the same shape, [out, in] x [in, in]. Not a unit test: run it by hand or as `wudi bench step`.
 */
public final class AdamStepBench {

    /** CLIP ViT-B/32: attention in_proj [3d, d], out_proj [d, d], MLP c_fc [4d, d] and c_proj [d, 4d], d = 768. */
    public static final List<int[]> CLIP_VIT_B32_SHAPES = List.of(
            new int[] {2304, 768}, new int[] {768, 768}, new int[] {3072, 768}, new int[] {768, 3072});

    /** Task-vector entries are N(0, RMS^2), the order of magnitude of CLIP fine-tuning task vectors. */
    public static final float TASK_VECTOR_RMS = 1e-3f;

    private static final int PAPER_STEPS = AdamConfig.PAPER_ITERATIONS;

    private AdamStepBench() {
    }

    /**
     * One row of the table. The bare sgemm is timed between the Adam steps (one call after each step, on
     * its own buffers), so that step and sgemm are sampled in the same moments: on a machine shared with
     * other work this pairing is what makes their ratio meaningful. "best" is the shortest sample, the
     * closest to undisturbed; "median" shows how disturbed the run was.
     */
    public record Row(int out, int in, double setupMs, double stepBestMs, double stepMedianMs,
                      double bareBestMs, double bareMedianMs, double literalStepMs) {

        public double flopsPerStep() {
            return 2.0 * out * (double) in * in;
        }

        /** 2 out in^2 / best step time: the step's speed counted in the GEMM's flops. */
        public double stepGflops() {
            return flopsPerStep() / (stepBestMs * 1e6);
        }

        public double bareGflops() {
            return flopsPerStep() / (bareBestMs * 1e6);
        }
    }

    /**
     * Runs the benchmark and prints a markdown table.
     *
     * @param threads      CPU threads (OpenBLAS and the element-wise pass); 0 = all cores
     * @param tasks        number of random task vectors n (8 for the paper's CLIP benchmark)
     * @param steps        one-GEMM Adam steps run per shape (at least 2; the first is not timed)
     * @param literalSteps literal-formula steps timed per shape after one warm-up step (it is slow; 0 skips it)
     * @param shapes       [out, in] pairs
     * @param pass         the Adam pass to time (native or Java; AUTO takes the native one where the jar has it)
     * @return the measured rows
     */
    public static List<Row> run(PrintStream out, int threads, int tasks, int steps, int literalSteps,
                                List<int[]> shapes, CpuBackend.AdamPassChoice pass) {
        if (steps < 2 || literalSteps < 0 || tasks < 1) {
            throw new IllegalArgumentException("need steps >= 2, literalSteps >= 0 and tasks >= 1");
        }
        List<Row> rows = new ArrayList<>();
        try (CpuBackend backend = new CpuBackend(threads, pass)) {
            out.println("# WUDI Adam step, " + tasks + " task vectors (RMS " + TASK_VECTOR_RMS + "), "
                    + backend.describe());
            out.println();
            out.println("Setup: folding the task vectors into the Gram form. Step: one GEMM P = tau_m C plus the"
                    + " fused Adam pass, " + (steps - 1) + " steps timed (the first is not), a bare sgemm of the"
                    + " same shape timed after each step; best / median of the samples. Literal: best of "
                    + literalSteps + " steps after one warm-up. 300-step times are the best step x 300"
                    + " (extrapolated).");
            out.println();
            out.println("| shape [out, in] | setup ms | setup GFLOP/s (% of bare sgemm's) | step ms best / median"
                    + " | bare sgemm ms best / median | GEMM GFLOP/s in step | bare sgemm GFLOP/s | step / bare (best)"
                    + " | step / bare (median) | literal step ms | ours x300 s | literal x300 s | ours / literal |");
            out.println("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            double oursTotal = 0.0;
            double setupTotal = 0.0;
            double literalTotal = 0.0;
            for (int[] shape : shapes) {
                Row r = measure(backend, tasks, steps, literalSteps, shape[0], shape[1]);
                rows.add(r);
                double ours300 = r.stepBestMs() * PAPER_STEPS / 1e3;
                double lit300 = r.literalStepMs() * PAPER_STEPS / 1e3;
                oursTotal += ours300;
                setupTotal += r.setupMs() / 1e3;
                literalTotal += lit300;
                double setupGflops = tasks * setupFlops(r.out(), r.in()) / r.setupMs() / 1e6;
                boolean literal = !Double.isNaN(r.literalStepMs());
                out.println(String.format(Locale.ROOT,
                        "| [%d, %d] | %.0f | %.1f (%.0f%%) | %.2f / %.2f | %.2f / %.2f | %.1f | %.1f | %.0f%% | %.0f%% | %s | %.2f | %s | %s |",
                        r.out(), r.in(), r.setupMs(), setupGflops, 100.0 * setupGflops / r.bareGflops(),
                        r.stepBestMs(), r.stepMedianMs(), r.bareBestMs(),
                        r.bareMedianMs(), r.stepGflops(), r.bareGflops(), 100.0 * r.bareBestMs() / r.stepBestMs(),
                        100.0 * r.bareMedianMs() / r.stepMedianMs(),
                        literal ? String.format(Locale.ROOT, "%.1f", r.literalStepMs()) : "-", ours300,
                        literal ? String.format(Locale.ROOT, "%.1f", lit300) : "-",
                        literal ? String.format(Locale.ROOT, "%.2f%%", 100.0 * ours300 / lit300) : "-"));
                out.flush();
            }
            if (literalSteps > 0) {
                out.println(String.format(Locale.ROOT, "| **total** | | | | | | | | | | %.2f | %.1f | %.2f%% |",
                        oursTotal, literalTotal, 100.0 * oursTotal / literalTotal));
                // our one-off Gram-form setup (the literal formula has none) counted on our side as well
                out.println(String.format(Locale.ROOT, "| **total with our setup** | %.0f | | | | | | | | | %.2f | %.1f"
                        + " | %.2f%% |", setupTotal * 1e3, oursTotal + setupTotal, literalTotal,
                        100.0 * (oursTotal + setupTotal) / literalTotal));
            }
        }
        return rows;
    }

    private static Row measure(CpuBackend backend, int tasks, int steps, int literalSteps, int out, int in) {
        List<float[]> taus = new ArrayList<>();
        Random rnd = new Random(31L * out + in);
        for (int i = 0; i < tasks; i++) {
            float[] t = new float[out * in];
            for (int j = 0; j < t.length; j++) {
                t[j] = (float) (rnd.nextGaussian() * TASK_VECTOR_RMS);
            }
            taus.add(t);
        }
        AdamConfig cfg = AdamConfig.paper();

        double setupMs;
        double[] stepMs = new double[steps - 1];
        double[] bareMs = new double[steps - 1];
        try (WudiProblem p = backend.newProblem("bench[" + out + "," + in + "]", out, in);
             NativeFloats a = new NativeFloats(out * in);
             NativeFloats b = new NativeFloats(in * in);
             NativeFloats c = new NativeFloats(out * in)) {
            a.fill(1e-3f);
            b.fill(1e-3f);
            long t0 = System.nanoTime();
            for (float[] t : taus) {
                p.addTaskVector(t);
            }
            setupMs = (System.nanoTime() - t0) / 1e6;
            long[] bareEnd = new long[1];
            // A listener that does not want the loss, like the merge's progress bar: the step is what a merge runs.
            p.solveAdam(cfg.withIterations(steps), StepListener.stepsOnly(t -> {
                long stepEnd = System.nanoTime();
                if (t >= 2) {
                    stepMs[t - 2] = (stepEnd - bareEnd[0]) / 1e6;
                }
                Blas.sgemm(false, false, out, in, in, 1.0f, a, b, 0.0f, c);
                bareEnd[0] = System.nanoTime();
                if (t >= 2) {
                    bareMs[t - 2] = (bareEnd[0] - stepEnd) / 1e6;
                }
            }));
        }

        double literalBest = Double.NaN;             // --literal-steps 0: minutes per step at LLM shapes, skipped
        if (literalSteps > 0) {
            long[] at = new long[literalSteps + 2];
            LiteralWudi.solve(out, in, taus, cfg.withIterations(literalSteps + 1), (t, l) -> at[t] = System.nanoTime());
            double[] literalMs = new double[literalSteps];
            for (int t = 2; t <= literalSteps + 1; t++) {
                literalMs[t - 2] = (at[t] - at[t - 1]) / 1e6;
            }
            literalBest = best(literalMs);
        }
        return new Row(out, in, setupMs, best(stepMs), median(stepMs), best(bareMs), median(bareMs), literalBest);
    }

    /**
     * Flops of folding one task vector into the Gram form (GramForm.add), as its BLAS calls count them: for out &gt;= in
     * a SYRK G = tau^T tau (out in (in + 1)) and D += w tau G (2 out in^2); else a SYRK into C (out in (in + 1)), one of
     * H = tau tau^T (in out (out + 1)) and D += w H tau (2 out^2 in).
     */
    static double setupFlops(int out, int in) {
        double o = out;
        double i = in;
        return o >= i ? o * i * (i + 1) + 2 * o * i * i : o * i * (i + 1) + i * o * (o + 1) + 2 * o * o * i;
    }

    static double best(double[] x) {
        double b = Double.POSITIVE_INFINITY;
        for (double v : x) {
            b = Math.min(b, v);
        }
        return b;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        int h = s.length / 2;
        return s.length % 2 == 1 ? s[h] : 0.5 * (s[h - 1] + s[h]);
    }

    /**
     * Command line: [--threads N] [--tasks N] [--steps N] [--literal-steps N] [--shapes 2304x768,768x768]
     * [--adam-pass auto|native|java].
     */
    public static void main(String[] args) {
        int threads = 0;
        int tasks = 8;
        int steps = 30;
        int literalSteps = 3;
        List<int[]> shapes = CLIP_VIT_B32_SHAPES;
        CpuBackend.AdamPassChoice pass = CpuBackend.AdamPassChoice.AUTO;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                System.out.println("AdamStepBench [--threads N (0 = all cores)] [--tasks 8] [--steps 30]"
                        + " [--literal-steps 3] [--shapes 2304x768,768x768,3072x768,768x3072] [--adam-pass auto|native|java]");
                return;
            }
            String v = i + 1 < args.length ? args[i + 1] : null;
            if (v == null) {
                throw new IllegalArgumentException("option " + a + " needs a value");
            }
            switch (a) {
                case "--threads" -> threads = Integer.parseInt(v);
                case "--tasks" -> tasks = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--literal-steps" -> literalSteps = Integer.parseInt(v);
                case "--shapes" -> shapes = parseShapes(v);
                case "--adam-pass" -> pass = CpuBackend.AdamPassChoice.valueOf(v.toUpperCase(Locale.ROOT));
                default -> throw new IllegalArgumentException("unknown option " + a
                        + " (use --threads, --tasks, --steps, --literal-steps, --shapes, --adam-pass)");
            }
            i++;
        }
        run(System.out, threads, tasks, steps, literalSteps, shapes, pass);
    }

    /** "2304x768,768x768" to [[2304, 768], [768, 768]]. */
    public static List<int[]> parseShapes(String s) {
        List<int[]> out = new ArrayList<>();
        for (String part : s.split(",")) {
            String[] xy = part.trim().toLowerCase(Locale.ROOT).split("x");
            if (xy.length != 2) {
                throw new IllegalArgumentException("shape '" + part + "' is not OUTxIN, e.g. 2304x768");
            }
            out.add(new int[] {Integer.parseInt(xy[0].trim()), Integer.parseInt(xy[1].trim())});
        }
        return out;
    }
}
