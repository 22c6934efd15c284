package dev.wudi.backend.cpu;

import dev.wudi.solver.AdamConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Not a test: times the whole-matrix Adam step against strip variants and a bare sgemm, interleaved in
 * one process (A B C bare A B C bare ...). Args: reps steps shape,shape strip,strip (0 = whole matrix).
 */
public final class StripStepCompare {

    public static void main(String[] args) {
        int reps = Integer.parseInt(args[0]);
        int steps = Integer.parseInt(args[1]);
        String[] shapes = args[2].split(",");
        int[] strips = Arrays.stream(args[3].split(",")).mapToInt(Integer::parseInt).toArray();
        boolean withListener = args.length < 5 || !args[4].equals("nolistener");
        Blas.setThreads(2);
        try (RowParallel parallel = new RowParallel(2)) {
            for (String sh : shapes) {
                String[] xy = sh.split("x");
                int out = Integer.parseInt(xy[0]);
                int in = Integer.parseInt(xy[1]);
                run(parallel, out, in, reps, steps, strips, withListener);
            }
        }
    }

    private static void run(RowParallel parallel, int out, int in, int reps, int steps, int[] strips, boolean withListener) {
        Random rnd = new Random(31L * out + in);
        List<CpuWudiProblem> problems = new ArrayList<>();
        for (int s : strips) {
            problems.add(new CpuWudiProblem("b", out, in, parallel, s));
        }
        for (int i = 0; i < 8; i++) {
            float[] t = new float[out * in];
            for (int j = 0; j < t.length; j++) {
                t[j] = (float) (rnd.nextGaussian() * 1e-3);
            }
            for (CpuWudiProblem p : problems) {
                p.addTaskVector(t);
            }
        }
        AdamConfig cfg = AdamConfig.paper().withIterations(steps);
        List<List<Double>> samples = new ArrayList<>();
        for (int v = 0; v <= strips.length; v++) {
            samples.add(new ArrayList<>());
        }
        float[][] finalTau = new float[strips.length][];
        try (NativeFloats a = new NativeFloats(out * in); NativeFloats b = new NativeFloats(in * in);
             NativeFloats c = new NativeFloats(out * in)) {
            a.fill(1e-3f);
            b.fill(1e-3f);
            for (int rep = 0; rep < reps; rep++) {
                for (int v = 0; v < strips.length; v++) {
                    List<Double> sm = samples.get(v);
                    long[] last = new long[1];
                    long t0 = System.nanoTime();
                    var res = problems.get(v).solveAdam(cfg, withListener ? (t, l) -> {
                        long now = System.nanoTime();
                        if (t >= 2) {
                            sm.add((now - last[0]) / 1e6);
                        }
                        last[0] = now;
                    } : null);
                    if (!withListener) {
                        long t1 = System.nanoTime();
                        problems.get(v).solveAdam(cfg.withIterations(1), null);   // setup, step 1 and final loss
                        sm.add(((t1 - t0) - (System.nanoTime() - t1)) / 1e6 / (steps - 1));
                    }
                    finalTau[v] = res.tauM();
                }
                for (int i = 0; i < steps; i++) {
                    long t0 = System.nanoTime();
                    Blas.sgemm(false, false, out, in, in, 1.0f, a, b, 0.0f, c);
                    samples.get(strips.length).add((System.nanoTime() - t0) / 1e6);
                }
            }
        }
        double bareBest = best(samples.get(strips.length));
        double bareMed = median(samples.get(strips.length));
        for (int v = 0; v < strips.length; v++) {
            CpuWudiProblem p = problems.get(v);
            double sb = best(samples.get(v));
            double sm = median(samples.get(v));
            System.out.printf(Locale.ROOT, "[%d,%d] strip=%d (used %d) step best %.3f median %.3f | bare best %.3f median %.3f"
                            + " | bare/step best %.0f%% median %.0f%% | same tau as variant 0: %s%n",
                    out, in, strips[v], p.stripRows(), sb, sm, bareBest, bareMed, 100 * bareBest / sb, 100 * bareMed / sm,
                    Arrays.equals(finalTau[0], finalTau[v]));
            p.close();
        }
        System.out.flush();
    }

    private static double best(List<Double> x) {
        return x.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    private static double median(List<Double> x) {
        double[] s = x.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int h = s.length / 2;
        return s.length % 2 == 1 ? s[h] : 0.5 * (s[h - 1] + s[h]);
    }
}
