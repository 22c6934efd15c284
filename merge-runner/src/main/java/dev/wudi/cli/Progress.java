package dev.wudi.cli;

import dev.wudi.merge.Figures;
import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.TensorRecord;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a merge: one line per optimised tensor ([k/M], numbered without gaps; loss before and after, seconds)
 * and, inside a tensor, its Adam steps with seconds per step and the ETA of the tensor and of the merge. On a terminal
 * a bar with those figures sits below the lines; in a pipe or a log a plain status line is written whenever
 * {@link #STEADY_SECONDS} pass without one, so a long tensor never leaves a log silent.
 */
final class Progress implements MergeListener, AutoCloseable {

    private static final long BAR_UNITS = 1000;
    /** At most this long without a line in a pipe or a log. */
    static final double STEADY_SECONDS = 8;

    private final PrintStream err;
    private final boolean quiet;
    private final boolean terminal;
    private final double steadySeconds;
    private ProgressBar bar;
    private ScheduledExecutorService ticker;
    private int optimised;
    /** Tensors of another method scored with WUDI's loss: a line each, counted with the optimised ones. */
    private int scored;
    private int printed;
    private long totalWork;
    private long doneWork;
    private long startNanos;
    private volatile long lastLineNanos;
    private volatile String current;
    private volatile long currentWork;
    private volatile long tensorNanos;
    private volatile int step;
    private volatile int steps;

    Progress(PrintStream err, boolean quiet) {
        this(err, quiet, System.console() != null, STEADY_SECONDS);
    }

    /** @param terminal draw a bar (else plain lines); @param steadySeconds the longest silence in a pipe */
    Progress(PrintStream err, boolean quiet, boolean terminal, double steadySeconds) {
        this.err = err;
        this.quiet = quiet;
        this.terminal = terminal;
        this.steadySeconds = steadySeconds;
    }

    @Override
    public void scoring(int tensors) {
        scored = tensors;
    }

    @Override
    public void started(int tensors, int optimisedTensors, long work) {
        this.optimised = optimisedTensors + scored;
        this.totalWork = Math.max(1, work);
        this.startNanos = System.nanoTime();
        this.lastLineNanos = startNanos;
        if (quiet) {
            return;
        }
        err.println("wudi: " + tensors + " tensor" + (tensors == 1 ? "" : "s") + (optimisedTensors > 0 ? ", "
                + optimisedTensors + " to optimise" : "") + (scored > 0 ? ", " + scored + " to score with WUDI's"
                + " interference loss" : "") + "; estimated " + Durations.text(work / 1e6)
                + " at nominal CPU rates (`wudi plan` measures this device)");
        if (terminal) {
            bar = new ProgressBarBuilder().setTaskName("merge").setInitialMax(BAR_UNITS)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
                    .setConsumer(new ConsoleProgressBarConsumer(err)).build();
        } else {
            ticker = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "wudi-progress");
                t.setDaemon(true);
                return t;
            });
            long period = Math.max(100, (long) (steadySeconds * 250));
            ticker.scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void tensorStarted(int i, String name, String method, long work) {
        current = name;
        currentWork = work;
        tensorNanos = System.nanoTime();
        step = 0;
        steps = 0;
        if (bar != null) {
            bar.setExtraMessage(name + " (" + method + ")");
        }
    }

    @Override
    public void step(int t, int of) {
        step = t;
        steps = of;
        if (bar != null && (t == of || t % 5 == 0)) {
            bar.setExtraMessage(status());
            bar.stepTo(Math.min(BAR_UNITS, workDone() * BAR_UNITS / totalWork));
        }
    }

    /** In a pipe: a status line when the last one is older than the steady interval. */
    private synchronized void tick() {
        long now = System.nanoTime();
        if (current != null && (now - lastLineNanos) / 1e9 >= steadySeconds) {
            err.println("wudi: " + status());
            err.flush();
            lastLineNanos = now;
        }
    }

    /** "h.0.attn.c_attn.weight: step 120/300, 0.28 s/step, tensor ETA 50 s, merge ETA 6.2 min". */
    synchronized String status() {
        double inTensor = (System.nanoTime() - tensorNanos) / 1e9;
        StringBuilder s = new StringBuilder(current == null ? "merging" : current);
        if (steps > 0 && step > 0) {
            double perStep = inTensor / step;
            s.append(String.format(Locale.ROOT, ": step %d/%d, %.3g s/step, tensor ETA %s", step, steps, perStep,
                    Durations.text(perStep * (steps - step))));
        } else {
            s.append(String.format(Locale.ROOT, ": %s in this tensor", Durations.text(inTensor)));
        }
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        long done = workDone();
        if (done > 0 && elapsed > 0) {
            s.append(", merge ETA ").append(Durations.text(elapsed / done * Math.max(0, totalWork - done)));
        }
        return s.toString();
    }

    /** Work of the finished tensors plus the finished share of the current one's steps. */
    private long workDone() {
        long partial = steps > 0 ? currentWork * step / steps : 0;
        return doneWork + partial;
    }

    @Override
    public synchronized void tensorDone(TensorRecord r, long work) {
        doneWork += work;
        current = null;
        steps = 0;
        if (!quiet && !Double.isNaN(r.lossBefore())) {
            String line = line(++printed, Math.max(optimised, printed), r);
            // On a terminal the line goes above the bar: clear the bar's line, print, let it redraw below.
            err.print(bar != null ? "\r\033[K" + line + "\n" : line + "\n");
            err.flush();
            lastLineNanos = System.nanoTime();
        }
        if (bar != null) {
            bar.stepTo(Math.min(BAR_UNITS, doneWork * BAR_UNITS / totalWork));
        }
    }

    @Override
    public synchronized void warning(String message) {
        if (bar != null) {
            bar.setExtraMessage("warning: " + message);
        }
        err.println("wudi: warning: " + message);
        lastLineNanos = System.nanoTime();
    }

    @Override
    public synchronized void info(String message) {
        if (!quiet) {
            err.println("wudi: " + message);
            lastLineNanos = System.nanoTime();
        }
    }

    static String line(int i, int of, TensorRecord r) {
        String extra = "";
        if (r.details().containsKey("all_task_vectors_zero")) {
            extra = ", every task vector zero: W0 kept";
        } else if (!r.zeroTaskVectors().isEmpty()) {
            extra = ", zero task vector (left out of the loss): model " + r.zeroTaskVectors().stream()
                    .map(String::valueOf).collect(java.util.stream.Collectors.joining(", "));
        }
        String layout = r.layout().equals("in-out") || r.layout().startsWith("experts")
                ? " [" + r.layout() + "]" : "";
        return String.format(Locale.ROOT, "[%d/%d] %s%s %s loss %s -> %s (%.2f s%s)", i, of, r.name(), layout,
                r.method(), Figures.of(r.lossBefore()), Figures.of(r.lossAfter()), r.seconds(), extra);
    }

    static String summary(MergeReport r) {
        StringBuilder sb = new StringBuilder();
        int n = r.tensors().size();
        sb.append(String.format(Locale.ROOT, "merged %d tensor%s (%d optimised) with %s on %s in %.2f s -> %s", n,
                n == 1 ? "" : "s", r.optimisedCount(), r.method(), r.device(), r.seconds(), r.out()));
        if (r.scoredCount() > 0) {
            sb.append(String.format(Locale.ROOT, "%ninterference loss, summed over %s: %s -> %s", r.lossScope(),
                    Figures.of(r.totalLossBefore()), Figures.of(r.totalLossAfter())));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        if (ticker != null) {
            ticker.shutdownNow();
            ticker = null;
        }
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
