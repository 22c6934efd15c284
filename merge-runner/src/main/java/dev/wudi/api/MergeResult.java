package dev.wudi.api;

import dev.wudi.merge.MergeReport;
import dev.wudi.merge.ReportPage;
import dev.wudi.merge.TensorRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The outcome of a {@link CheckpointMerge}: the output written, one {@link TensorResult} per tensor and the totals,
 * and the same JSON and HTML reports as `wudi merge --report / --report-html`. Immutable; safe to share.
 */
public final class MergeResult {

    private final MergeReport report;
    private final List<TensorResult> tensors;

    MergeResult(MergeReport report) {
        this.report = report;
        List<TensorResult> ts = new ArrayList<>();
        report.tensors().forEach(t -> ts.add(of(t)));
        this.tensors = List.copyOf(ts);
    }

    static TensorResult of(TensorRecord t) {
        List<Long> shape = new ArrayList<>();
        for (long d : t.shape()) {
            shape.add(d);
        }
        return new TensorResult(t.name(), t.method(), shape, t.dtype(), t.lossBefore(), t.lossAfter(), t.seconds(),
                t.details());
    }

    /**
     * The output path as given.
     *
     * @return the output's path
     */
    public Path out() {
        return Path.of(report.out());
    }

    /**
     * The method with its solver and settings, as the report names it ("wudi (adam lr 1.0E-5, 300 steps)").
     *
     * @return the method's description
     */
    public String method() {
        return report.method();
    }

    /**
     * Where WUDI ran ("cpu", "cuda:0 (NVIDIA H200)", ...).
     *
     * @return the device's name
     */
    public String device() {
        return report.device();
    }

    /**
     * Every tensor of the output, in output order.
     *
     * @return one result per tensor, in output order
     */
    public List<TensorResult> tensors() {
        return tensors;
    }

    /**
     * The warnings the merge gave, in order.
     *
     * @return the warnings
     */
    public List<String> warnings() {
        return report.warnings();
    }

    /**
     * Wall time of the whole merge, in seconds.
     *
     * @return seconds
     */
    public double seconds() {
        return report.seconds();
    }

    /**
     * Bytes of tensor data written.
     *
     * @return bytes
     */
    public long outputBytes() {
        return report.outputBytes();
    }

    /**
     * Tensors WUDI optimised.
     *
     * @return the count
     */
    public int optimisedCount() {
        return report.optimisedCount();
    }

    /**
     * Interference loss summed over the tensors that have one, before (at the sum of task vectors).
     *
     * @return the sum, or NaN when no tensor has a loss
     */
    public double totalLossBefore() {
        return report.scoredCount() == 0 ? Double.NaN : report.totalLossBefore();
    }

    /**
     * Interference loss summed over the tensors that have one, after.
     *
     * @return the sum, or NaN when no tensor has a loss
     */
    public double totalLossAfter() {
        return report.scoredCount() == 0 ? Double.NaN : report.totalLossAfter();
    }

    /**
     * The JSON report (`wudi merge --report`), as one document.
     *
     * @return the report as pretty-printed JSON
     */
    public String toJson() {
        return report.toJson().toPrettyString();
    }

    /**
     * Writes the JSON report to file (atomically: a temporary file renamed into place).
     *
     * @param file where to write it (its folder is created)
     * @throws IOException when it cannot be written
     */
    public void writeJson(Path file) throws IOException {
        report.write(file);
    }

    /**
     * Writes the self-contained HTML report (`wudi merge --report-html`).
     *
     * @param file where to write it (its folder is created)
     * @throws IOException when it cannot be written
     */
    public void writeHtml(Path file) throws IOException {
        ReportPage.write(report, file);
    }
}
