package dev.wudi.bench;

import dev.wudi.backend.Backend;
import dev.wudi.backend.cpu.CpuBackend;
import dev.wudi.demo.Demo;
import dev.wudi.demo.SyntheticTasks;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.Merger;
import dev.wudi.method.MergeMethods;
import dev.wudi.solver.AdamConfig;
import dev.wudi.solver.AutoLr;
import dev.wudi.solver.SolverSpec;
import dev.wudi.solver.spectral.SpectralFilter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;

/**
 * `wudi bench quality`: merges with every method and solver through the same pipeline as `wudi merge`,
 * times each merge, and scores it: on the built-in synthetic tasks by the demo's interference (relative
 * output error against each task's own fine-tune, lower is better), and on a fixture folder in the
 * digits6 layout by average accuracy with each task's own head (higher is better). Prints markdown
 * tables and draws the fixture's (or else the synthetic set's) score against time as a PNG: CPU time of
 * the merge when the backend runs one thread (steady on a shared machine), else wall time.
 */
public final class QualityBench {

    /** One method or solver configuration as the bench runs it. */
    public record Method(String label, UnaryOperator<MergeSpec> configure) {
    }

    /**
     * One scored merge: per-task score, its mean, the merge's wall time (median over repeats), the CPU time
     * of the merging thread (median; all of the merge's work when the backend runs one thread), and the
     * interference loss summed over WUDI's tensors after the merge.
     */
    public record Row(String label, double[] scores, double mean, double seconds, double cpuSeconds, double lossAfter) {
    }

    /** How merges are timed: each one is run `repeats` times, the median reported. */
    private static int repeats = 1;

    private QualityBench() {
    }

    /**
     * Every method and solver the bench compares: the default merge (no solver option), then the paper's Adam and
     * each solver at its own defaults (scale 1, the base's other tensors).
     */
    public static List<Method> methods() {
        List<Method> m = new ArrayList<>();
        m.add(new Method("task-arithmetic x0.3", o -> o.withMethod(MergeMethods.TASK_ARITHMETIC)));
        m.add(new Method("average", o -> o.withMethod(MergeMethods.AVERAGE)));
        m.add(new Method("ties", o -> o.withMethod(MergeMethods.TIES)));
        m.add(new Method("wudi default merge", o -> o));
        m.add(new Method("wudi adam lr 1e-5 (paper)", o -> o.withAdam(AdamConfig.paper())));
        m.add(new Method("wudi adam lr 1e-3", o -> o.withAdam(AdamConfig.paper().withLr(1e-3f))));
        m.add(new Method("wudi adam lr auto", o -> o.withAutoLr(AutoLr.defaults())));
        m.add(new Method("wudi exact", o -> o.withSolver(new SolverSpec.Exact(0))));
        m.add(new Method("wudi spectral (default: flow)", o -> o.withSolver(SolverSpec.Spectral.defaults())));
        m.add(new Method("wudi spectral tikhonov", o -> o.withSolver(
                new SolverSpec.Spectral(SpectralFilter.Kind.TIKHONOV, Double.NaN, 0))));
        m.add(new Method("wudi spectral landweber", o -> o.withSolver(
                new SolverSpec.Spectral(SpectralFilter.Kind.LANDWEBER, Double.NaN, 0))));
        m.add(new Method("wudi spectral flow, rank 32", o -> o.withSolver(
                new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 32))));
        return m;
    }

    /**
     * Runs the bench.
     *
     * @param fixtureOrNull a folder in the digits6 layout, or null for the synthetic tasks only
     * @param pngOut        where the chart goes (null: no chart)
     * @param scales        task-vector scales at which the synthetic set is merged (1 = as built)
     */
    public static void run(PrintStream out, Path fixtureOrNull, Path pngOut, Backend backend, double[] scales)
            throws IOException {
        run(out, fixtureOrNull, pngOut, backend, scales, 1);
    }

    /** As above, timing every merge as the median of `timingRepeats` runs. */
    public static synchronized void run(PrintStream out, Path fixtureOrNull, Path pngOut, Backend backend,
                                        double[] scales, int timingRepeats) throws IOException {
        repeats = Math.max(1, timingRepeats);
        boolean cpuAxis = backend instanceof CpuBackend c && c.threads() == 1;
        out.println("Backend: " + backend.describe() + "; times are the median of " + repeats + " run(s).");
        out.println();
        Path work = Files.createTempDirectory("wudi-quality");
        try {
            List<Row> chartRows = null;
            String chartTitle = null;
            String yTitle = null;
            SyntheticTasks set = Demo.defaultTasks();
            for (double scale : scales) {
                SyntheticTasks s = scale == 1 ? set : set.scaled(scale);
                List<Row> rows = synthetic(s, work.resolve("synthetic-x" + scale), backend);
                out.printf(Locale.ROOT, "### Synthetic tasks, task vectors x%s (RMS %.2g)%n%n", trim(scale), s.taskVectorRms(0));
                out.println("Interference per task (relative output error against the task's own fine-tune; 0 = as"
                        + " good as it, 1 = no better than the base; lower is better).");
                out.println();
                printTable(out, rows, taskNames(s.tasks), "mean err", "%.4f");
                if (scale == 1) {
                    chartRows = rows;
                    chartTitle = "Synthetic tasks: interference against merge time";
                    yTitle = "mean interference (lower is better)";
                }
            }
            if (fixtureOrNull != null) {
                FixtureScorer fx = FixtureScorer.open(fixtureOrNull);
                List<Row> rows = fixture(fx, work.resolve("fixture"), backend);
                out.printf(Locale.ROOT, "### Fixture %s%n%n", fixtureOrNull.getFileName());
                out.println("Accuracy (%) per task with each task's own head; higher is better.");
                out.println();
                printTable(out, rows, fx.tasks(), "avg", "%.2f");
                chartRows = rows;
                chartTitle = "Fixture " + fixtureOrNull.getFileName() + ": average accuracy against merge time";
                yTitle = "average accuracy (%)";
            }
            if (pngOut != null && chartRows != null) {
                chart(chartRows, chartTitle, yTitle, pngOut, cpuAxis);
                out.println("Chart written to " + pngOut);
            }
        } finally {
            try (Stream<Path> s = Files.walk(work)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    static List<Row> synthetic(SyntheticTasks set, Path dir, Backend backend) throws IOException {
        Files.createDirectories(dir);
        List<Path> files = set.write(dir);
        Path base = files.get(0);
        List<Path> models = files.subList(1, files.size());
        List<Row> rows = new ArrayList<>();
        double[] pre = Demo.score(set, base);
        rows.add(new Row("pretrained (no merge)", pre, mean(pre), Double.NaN, Double.NaN, Double.NaN));
        for (Method m : methods()) {
            Path outFile = dir.resolve("merged.safetensors");
            MergeSpec o = m.configure().apply(MergeSpec.defaults(base, models, outFile).withForce(true));
            Timed t = timed(o, backend);
            double[] err = Demo.score(set, outFile);
            rows.add(new Row(m.label(), err, mean(err), t.wall, t.cpu, lossAfter(t.report)));
        }
        return rows;
    }

    static List<Row> fixture(FixtureScorer fx, Path dir, Backend backend) throws IOException {
        Files.createDirectories(dir);
        List<Row> rows = new ArrayList<>();
        double[] pre = fx.accuracy(fx.base());
        rows.add(new Row("pretrained (no merge)", pre, mean(pre), Double.NaN, Double.NaN, Double.NaN));
        for (Method m : methods()) {
            Path outFile = dir.resolve("merged.safetensors");
            MergeSpec o = m.configure().apply(MergeSpec.defaults(fx.base(), fx.models(), outFile).withForce(true));
            Timed t = timed(o, backend);
            double[] acc = fx.accuracy(outFile);
            rows.add(new Row(m.label(), acc, mean(acc), t.wall, t.cpu, lossAfter(t.report)));
        }
        return rows;
    }

    private record Timed(MergeReport report, double wall, double cpu) {
    }

    /** A set of models to merge and how a merge of them is scored (mean over tasks). */
    private record Testbed(String name, Path base, List<Path> models, Scorer scorer) {
    }

    @FunctionalInterface
    private interface Scorer {
        double mean(Path merged) throws IOException;
    }

    /** The cutoff fractions and --lr auto factors the sweep tries. */
    static final double[] SWEEP_CUTOFFS = {0.003, 0.01, 0.03, 0.1, 0.25, 0.5, 1, 3};
    static final double[] SWEEP_LR_FACTORS = {0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1};
    static final float[] SWEEP_FIXED_LRS = {1e-5f, 1e-4f, 1e-3f};

    /**
     * The evidence behind the two data-free rules: the spectral default's cutoff fraction and --lr auto's
     * factor, swept on the synthetic tasks at the given scales and on the fixture, one column per testbed
     * (synthetic: mean interference, lower is better; fixture: average accuracy, higher is better).
     */
    public static void sweep(PrintStream out, Path fixtureOrNull, Backend backend, double[] scales) throws IOException {
        Path work = Files.createTempDirectory("wudi-sweep");
        try {
            List<Testbed> beds = new ArrayList<>();
            SyntheticTasks set = Demo.defaultTasks();
            for (double scale : scales) {
                SyntheticTasks s = scale == 1 ? set : set.scaled(scale);
                Path dir = Files.createDirectories(work.resolve("synthetic-x" + scale));
                List<Path> files = s.write(dir);
                beds.add(new Testbed("synthetic x" + trim(scale) + " (err)", files.get(0), files.subList(1, files.size()),
                        f -> mean(Demo.score(s, f))));
            }
            if (fixtureOrNull != null) {
                FixtureScorer fx = FixtureScorer.open(fixtureOrNull);
                beds.add(new Testbed(fixtureOrNull.getFileName() + " (acc %)", fx.base(), fx.models(),
                        f -> mean(fx.accuracy(f))));
            }
            List<String> labels = new ArrayList<>();
            List<UnaryOperator<MergeSpec>> configs = new ArrayList<>();
            for (double c : SWEEP_CUTOFFS) {
                labels.add("spectral flow, cutoff " + trim(c) + (c == SpectralFilter.DEFAULT_CUTOFF_FRACTION ? " (default)" : ""));
                configs.add(o -> o.withSolver(new SolverSpec.Spectral(SpectralFilter.Kind.EXPONENTIAL, Double.NaN, 0, c)));
            }
            labels.add("exact");
            configs.add(o -> o.withSolver(new SolverSpec.Exact(0)));
            sweepTable(out, "Spectral default: the cutoff fraction (lambda_c = F x mean nonzero eigenvalue of C)",
                    beds, labels, configs, work, backend);
            labels.clear();
            configs.clear();
            for (float lr : SWEEP_FIXED_LRS) {
                labels.add("adam lr " + lr + (lr == AdamConfig.PAPER_LR ? " (paper)" : ""));
                configs.add(o -> o.withAdam(AdamConfig.paper().withLr(lr)));
            }
            for (double k : SWEEP_LR_FACTORS) {
                labels.add("adam lr auto:" + trim(k) + (k == AutoLr.DEFAULT_FACTOR ? " (default)" : ""));
                configs.add(o -> o.withAutoLr(new AutoLr(k)));
            }
            sweepTable(out, "--lr auto: the factor K (lr = K x the tensor's task-vector RMS), against fixed lr",
                    beds, labels, configs, work, backend);
        } finally {
            try (Stream<Path> s = Files.walk(work)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void sweepTable(PrintStream out, String title, List<Testbed> beds, List<String> labels,
                                   List<UnaryOperator<MergeSpec>> configs, Path work, Backend backend)
            throws IOException {
        out.println("### " + title);
        out.println();
        StringBuilder head = new StringBuilder("| setting |");
        StringBuilder rule = new StringBuilder("|---|");
        for (Testbed b : beds) {
            head.append(' ').append(b.name()).append(" |");
            rule.append("---:|");
        }
        out.println(head);
        out.println(rule);
        for (int i = 0; i < labels.size(); i++) {
            StringBuilder line = new StringBuilder("| ").append(labels.get(i)).append(" |");
            for (Testbed b : beds) {
                Path outFile = work.resolve("sweep.safetensors");
                MergeSpec o = configs.get(i).apply(MergeSpec.defaults(b.base(), b.models(), outFile).withForce(true));
                new Merger(o, backend, null).run();
                double v = b.scorer().mean(outFile);
                line.append(' ').append(String.format(Locale.ROOT, b.name().endsWith("(err)") ? "%.4f" : "%.2f", v))
                        .append(" |");
            }
            out.println(line);
        }
        out.println();
    }

    private static Timed timed(MergeSpec o, Backend backend) throws IOException {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[] wall = new double[repeats];
        double[] cpu = new double[repeats];
        MergeReport r = null;
        // timed without scoring a baseline's result (a diagnostic, not part of its merge); scored once after
        MergeSpec untimed = o.toBuilder().lossScoring(dev.wudi.spec.LossScoring.OFF).buildDropping();
        for (int k = 0; k < repeats; k++) {
            long c0 = mx.getCurrentThreadCpuTime();
            r = new Merger(untimed, backend, null).run();
            cpu[k] = (mx.getCurrentThreadCpuTime() - c0) / 1e9;
            wall[k] = r.seconds();
        }
        if (r.scoredCount() == 0) {
            r = new Merger(o.toBuilder().lossScoring(dev.wudi.spec.LossScoring.ON).buildDropping(), backend, null).run();
        }
        return new Timed(r, median(wall), median(cpu));
    }

    private static double median(double[] a) {
        double[] b = a.clone();
        java.util.Arrays.sort(b);
        return b.length % 2 == 1 ? b[b.length / 2] : (b[b.length / 2 - 1] + b[b.length / 2]) / 2;
    }

    private static double lossAfter(MergeReport r) {
        return r.scoredCount() == 0 ? Double.NaN : r.totalLossAfter();
    }

    static void printTable(PrintStream out, List<Row> rows, List<String> tasks, String meanName, String fmt) {
        StringBuilder head = new StringBuilder("| method |");
        StringBuilder rule = new StringBuilder("|---|");
        for (String t : tasks) {
            head.append(' ').append(t).append(" |");
            rule.append("---:|");
        }
        head.append(' ').append(meanName).append(" | merge wall (s) | merge CPU (s) | WUDI loss after |");
        rule.append("---:|---:|---:|---:|");
        out.println(head);
        out.println(rule);
        for (Row r : rows) {
            StringBuilder line = new StringBuilder("| ").append(r.label()).append(" |");
            for (double v : r.scores()) {
                line.append(' ').append(String.format(Locale.ROOT, fmt, v)).append(" |");
            }
            line.append(" **").append(String.format(Locale.ROOT, fmt, r.mean())).append("** | ")
                    .append(Double.isNaN(r.seconds()) ? "-" : String.format(Locale.ROOT, "%.3f", r.seconds()))
                    .append(" | ")
                    .append(Double.isNaN(r.cpuSeconds()) ? "-" : String.format(Locale.ROOT, "%.3f", r.cpuSeconds()))
                    .append(" | ")
                    .append(Double.isNaN(r.lossAfter()) ? "-" : String.format(Locale.ROOT, "%.4g", r.lossAfter()))
                    .append(" |");
            out.println(line);
        }
        out.println();
    }

    /** Score against merge time, one point (and legend entry) per method; headless, written as PNG. */
    static void chart(List<Row> rows, String title, String yTitle, Path png, boolean cpuAxis) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(1000).height(560).title(title)
                .xAxisTitle(cpuAxis ? "merge CPU time, one thread, seconds (log scale)" : "merge wall time, seconds (log scale)").yAxisTitle(yTitle).build();
        chart.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setMarkerSize(11);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        chart.getStyler().setXAxisDecimalPattern("0.###");
        for (Row r : rows) {
            if (!Double.isNaN(r.seconds())) {
                double x = cpuAxis ? r.cpuSeconds() : r.seconds();
                chart.addSeries(r.label(), new double[] {Math.max(x, 1e-3)}, new double[] {r.mean()});
            }
        }
        Path abs = png.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        try (OutputStream os = Files.newOutputStream(abs)) {
            BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    private static List<String> taskNames(int n) {
        List<String> t = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            t.add("task" + i);
        }
        return t;
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }

    static double mean(double[] a) {
        double s = 0;
        for (double v : a) {
            s += v;
        }
        return s / a.length;
    }
}
