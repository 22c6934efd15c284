package dev.wudi.demo;

import dev.wudi.backend.Backend;
import dev.wudi.format.SafetensorsFile;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.method.MergeMethod;
import dev.wudi.method.CoverageRule;
import dev.wudi.method.MergeMethods;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * `wudi demo`: builds the synthetic multi-task set in a folder, merges it with every method at its
 * default settings through the same code path as `wudi merge`, and scores each merge by its
 * interference on every task: the relative output error of the merged stack on that task's held-out
 * inputs versus the task's own fine-tuned stack,
 *
 *     err_i = ||F_merged(X_i) - F_i(X_i)|| / ||F_i(X_i) - F_0(X_i)||,
 *
 * so 0 means the merge does task i exactly as its own fine-tune, and 1 means it is as far off as the
 * unmerged base.
 */
public final class Demo {

    /** The demo's set: 4 tasks, 3 layers of 64x64, 8-dimensional task subspaces, ~1e-3 RMS task vectors. */
    public static SyntheticTasks defaultTasks() {
        return SyntheticTasks.build(64, 3, 4, 8, 128, 0.05, 20250308L);
    }

    /** Per method (in run order): per task error, plus the merge's report. */
    public record Result(SyntheticTasks tasks, Map<String, double[]> errors, Map<String, MergeReport> reports) {

        public double mean(String method) {
            double s = 0;
            for (double e : errors.get(method)) {
                s += e;
            }
            return s / errors.get(method).length;
        }
    }

    public static Result run(SyntheticTasks set, Path dir, Backend backend) throws IOException {
        List<Path> files = set.write(dir);
        Path base = files.get(0);
        List<Path> models = files.subList(1, files.size());
        Map<String, double[]> errors = new LinkedHashMap<>();
        Map<String, MergeReport> reports = new LinkedHashMap<>();
        errors.put("pretrained", score(set, set.base));
        for (MergeMethod m : List.of(MergeMethods.TASK_ARITHMETIC, MergeMethods.AVERAGE, MergeMethods.TIES,
                MergeMethods.WUDI)) {
            Path out = dir.resolve("merged-" + m.name() + ".safetensors");
            MergeSpec options = MergeSpec.defaults(base, models, out).withMethod(m).withForce(true);
            MergeReport r = new Merger(options, backend, null).run();
            reports.put(m.name(), r);
            errors.put(m.name(), score(set, read(out, set)));
        }
        return new Result(set, errors, reports);
    }

    private static float[][] read(Path file, SyntheticTasks set) throws IOException {
        float[][] w = new float[set.layers][set.width * set.width];
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (int l = 0; l < set.layers; l++) {
                f.readFloats(f.tensor(SyntheticTasks.layerName(l)), 0, w[l], 0, w[l].length);
            }
        }
        return w;
    }

    /** err_i for every task i of the merged stack in file (the layers as {@link SyntheticTasks#write} names them). */
    public static double[] score(SyntheticTasks set, Path file) throws IOException {
        return score(set, read(file, set));
    }

    /** err_i for every task i of a merged stack. */
    static double[] score(SyntheticTasks set, float[][] merged) {
        double[] err = new double[set.tasks];
        for (int i = 0; i < set.tasks; i++) {
            float[] x = set.inputs[i];
            float[] own = SyntheticTasks.forward(set.tuned[i], x, set.samples, set.width);
            float[] pre = SyntheticTasks.forward(set.base, x, set.samples, set.width);
            float[] got = SyntheticTasks.forward(merged, x, set.samples, set.width);
            double num = 0;
            double den = 0;
            for (int j = 0; j < own.length; j++) {
                num += sq(got[j] - own[j]);
                den += sq(own[j] - pre[j]);
            }
            err[i] = Math.sqrt(num / den);
        }
        return err;
    }

    private static double sq(double v) {
        return v * v;
    }

    public static void print(Result r, PrintStream out) {
        SyntheticTasks s = r.tasks();
        out.printf(Locale.ROOT, "Synthetic multi-task set: %d tasks, %d layers of %dx%d (tanh between), each task fine-tuned"
                + " on inputs from its own %d-dim subspace.%n", s.tasks, s.layers, s.width, s.width, s.rank);
        List<String> rms = new ArrayList<>();
        for (int i = 0; i < s.tasks; i++) {
            rms.add(String.format(Locale.ROOT, "%.2g", s.taskVectorRms(i)));
        }
        out.println("Task-vector RMS per task: " + String.join(", ", rms) + " (CLIP-like scale).");
        out.println();
        out.println("Interference per task: ||F_merged(X_i) - F_i(X_i)|| / ||F_i(X_i) - F_0(X_i)|| on held-out inputs"
                + " of task i (0 = as good as task i's own fine-tune, 1 = no better than the base). Lower is better.");
        out.println();
        StringBuilder header = new StringBuilder(String.format(Locale.ROOT, "%-18s", "method"));
        for (int i = 0; i < s.tasks; i++) {
            header.append(String.format(Locale.ROOT, "%9s", "task" + i));
        }
        header.append(String.format(Locale.ROOT, "%9s  %-10s  %s", "mean", "merge time", "WUDI loss"));
        out.println(header);
        for (Map.Entry<String, double[]> e : r.errors().entrySet()) {
            StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "%-18s", e.getKey()));
            for (double v : e.getValue()) {
                row.append(String.format(Locale.ROOT, "%9.3f", v));
            }
            row.append(String.format(Locale.ROOT, "%9.3f", r.mean(e.getKey())));
            MergeReport rep = r.reports().get(e.getKey());
            if (rep != null) {
                row.append(String.format(Locale.ROOT, "  %-10s", String.format(Locale.ROOT, "%.2f s", rep.seconds())));
                if (rep.scoredCount() > 0) {
                    row.append(String.format(Locale.ROOT, "  %.4g", rep.totalLossAfter()));
                }
            }
            out.println(row);
        }
        MergeReport w = r.reports().get(MergeMethods.WUDI.name());
        out.println();
        out.printf(Locale.ROOT, "wudi is the default merge: WUDI's spectral solver, then per layer %s x its solution"
                + " tau_m or %s x the models' average (--scale auto; --solver adam for the paper's Adam). WUDI's"
                + " interference loss summed over layers: %.4g at the sum of the task vectors, %.4g at tau_m (the wudi"
                + " row's column); the other rows' column is that loss of their merge (merge time includes computing"
                + " it).%n", CoverageRule.SCALE, CoverageRule.AVERAGE_FRACTION, w.totalLossBefore(),
                w.totalLossAfter());
        String best = r.errors().keySet().stream().filter(k -> !k.equals("pretrained"))
                .min((a, b) -> Double.compare(r.mean(a), r.mean(b))).orElseThrow();
        out.println("Lowest mean interference: " + best + ".");
    }

}
