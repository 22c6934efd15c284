package dev.wudi.cli;

import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.TensorRecord;
import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * Progress of a merge: one line per optimised tensor (loss before and after, seconds), and on a
 * terminal a bar with ETA over all tensors below those lines; pipes and logs get the lines alone.
 */
final class Progress implements MergeListener, AutoCloseable {

    private static final long BAR_UNITS = 1000;

    private final PrintStream err;
    private final boolean quiet;
    private final boolean terminal = System.console() != null;
    private ProgressBar bar;
    private int tensors;
    private int index;
    private long totalWork;
    private long doneWork;

    Progress(PrintStream err, boolean quiet) {
        this.err = err;
        this.quiet = quiet;
    }

    @Override
    public void started(int tensorCount, long totalWork) {
        this.tensors = tensorCount;
        this.totalWork = Math.max(1, totalWork);
        if (!quiet && terminal) {
            bar = new ProgressBarBuilder().setTaskName("merge").setInitialMax(BAR_UNITS)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(250)
                    .setConsumer(new ConsoleProgressBarConsumer(err)).build();
        }
    }

    @Override
    public void tensorStarted(int i, String name, String method) {
        index = i;
        if (bar != null) {
            bar.setExtraMessage((i + 1) + "/" + tensors + " " + name + " (" + method + ")");
        }
    }

    @Override
    public void tensorDone(TensorRecord r, long work) {
        if (!quiet && !Double.isNaN(r.lossBefore())) {
            // On a terminal the line goes above the bar: clear the bar's line, print, let it redraw below.
            err.print(bar != null ? "\r\033[K" + line(index + 1, tensors, r) + "\n" : line(index + 1, tensors, r) + "\n");
            err.flush();
        }
        if (bar != null) {
            // The bar counts thousandths of the estimated work; ETA follows from them.
            doneWork += work;
            bar.stepTo(Math.min(BAR_UNITS, doneWork * BAR_UNITS / totalWork));
        }
    }

    @Override
    public void warning(String message) {
        if (bar != null) {
            bar.setExtraMessage("warning: " + message);
        }
        err.println("wudi: warning: " + message);
    }

    @Override
    public void info(String message) {
        if (!quiet) {
            err.println("wudi: " + message);
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
        return String.format(Locale.ROOT, "[%d/%d] %s%s %s loss %.6g -> %.6g (%.2f s%s)", i, of, r.name(), layout,
                r.method(), r.lossBefore(), r.lossAfter(), r.seconds(), extra);
    }

    static String summary(MergeReport r) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "merged %d tensors (%d optimised) with %s on %s in %.2f s -> %s",
                r.tensors().size(), r.optimisedCount(), r.method(), r.device(), r.seconds(), r.out()));
        if (r.optimisedCount() > 0) {
            sb.append(String.format(Locale.ROOT, "%ninterference loss, summed over optimised tensors: %.6g -> %.6g",
                    r.totalLossBefore(), r.totalLossAfter()));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
