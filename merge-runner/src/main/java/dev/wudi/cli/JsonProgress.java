package dev.wudi.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.merge.MergeListener;
import dev.wudi.merge.MergeReport;
import dev.wudi.merge.TensorRecord;
import java.io.PrintStream;

/**
 * --progress json: the merge as one JSON object per line on stdout, for tools in other languages: {"event":"start"},
 * "tensor_start", "step" (at most one a second per tensor, and the last), "tensor_done", "warning", "info", "done",
 * or "error" / "interrupted" as the last line of a merge that fails or is stopped. Every object carries "schema"
 * ({@link #SCHEMA}); losses that do not apply are null. docs/integration.md documents every field.
 */
final class JsonProgress implements MergeListener, AutoCloseable {

    /** The version of the events' schema: raised when a field changes meaning or goes away (not when one is added). */
    static final int SCHEMA = 1;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final PrintStream out;
    private String current;
    private long tensorNanos;
    private long lastStepNanos;

    JsonProgress(PrintStream out) {
        this.out = out;
    }

    private synchronized void emit(ObjectNode n) {
        out.println(n.toString());
        out.flush();
    }

    private static ObjectNode event(String name) {
        return JSON.createObjectNode().put("event", name).put("schema", SCHEMA);
    }

    /** One line said outside a merge's events (a config's note, the GPU probe's fallback): an "info" event. */
    static void info(PrintStream out, String message) {
        out.println(event("info").put("message", message).toString());
        out.flush();
    }

    /** The last line of a merge stopped by SIGINT or SIGTERM (what was kept for --resume is in the message). */
    static void interrupted(PrintStream out, String message) {
        out.println(event("interrupted").put("message", message).toString());   // exit 130 (SIGINT) or 143 (SIGTERM)
        out.flush();
    }

    /**
     * The last line of a run that fails in JSON mode: {"event":"error","exit":N,"message":...}, the message being the
     * line printed on stderr without its "wudi: " prefix.
     */
    static void error(java.io.PrintWriter out, int exit, String message) {
        out.println(event("error").put("exit", exit).put("message", message).toString());
        out.flush();
    }

    private int scored;

    @Override
    public void scoring(int tensors) {
        scored = tensors;
    }

    @Override
    public void started(int tensors, int optimised, long totalWork) {
        emit(event("start").put("tensors", tensors).put("optimise", optimised).put("score", scored)
                .put("estimated_seconds", totalWork / 1e6));
    }

    @Override
    public void tensorStarted(int index, String name, String method, long work) {
        current = name;
        tensorNanos = System.nanoTime();
        lastStepNanos = 0;
        emit(event("tensor_start").put("index", index).put("name", name).put("method", method));
    }

    @Override
    public void step(int t, int of) {
        long now = System.nanoTime();
        if (t == of || now - lastStepNanos >= 1_000_000_000L) {
            lastStepNanos = now;
            double perStep = (now - tensorNanos) / 1e9 / t;
            emit(event("step").put("name", current).put("step", t).put("steps", of).put("seconds_per_step", perStep)
                    .put("tensor_eta_seconds", perStep * (of - t)));
        }
    }

    @Override
    public void tensorDone(TensorRecord r, long work) {
        ObjectNode n = event("tensor_done").put("name", r.name()).put("method", r.method()).put("seconds", r.seconds());
        loss(n, "loss_before", r.lossBefore());
        loss(n, "loss_after", r.lossAfter());
        emit(n);
    }

    @Override
    public void warning(String message) {
        emit(event("warning").put("message", message));
    }

    @Override
    public void info(String message) {
        emit(event("info").put("message", message));
    }

    /** The last line: what was written and its totals. */
    void done(MergeReport r) {
        ObjectNode n = event("done").put("out", r.out()).put("tensors", r.tensors().size())
                .put("optimised", r.optimisedCount()).put("seconds", r.seconds()).put("method", r.method())
                .put("device", r.device());
        n.put("scored", r.scoredCount());
        loss(n, "loss_before", r.scoredCount() == 0 ? Double.NaN : r.totalLossBefore());
        loss(n, "loss_after", r.scoredCount() == 0 ? Double.NaN : r.totalLossAfter());
        emit(n);
    }

    private static void loss(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) {
            n.put(key, v);
        } else {
            n.putNull(key);
        }
    }

    @Override
    public void close() {
        out.flush();
    }
}
