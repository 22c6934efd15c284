package dev.wudi.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.DoubleNode;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.wudi.spec.MergeOption;
import dev.wudi.spec.OptionTable;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The outcome of a merge: what produced it and what it did ({@link RunInfo}), one record per tensor and the totals;
 * written by --report as JSON (docs/integration.md gives its fields), and the one record the HTML page, the model
 * card and the summary are written from.
 *
 * @param method the method with its solver and settings as applied ("wudi (adam lr 1.0E-5, 300 steps)", "ties
 *               (scale 1.0; model 1: density 0.5, weight 1.0; ...)")
 */
public record MergeReport(String method, String device, String out, List<TensorRecord> tensors,
                          List<String> warnings, double seconds, long outputBytes, RunInfo run) {

    /**
     * The version of the JSON report's form: raised when a field changes meaning, type or goes away (not when one is
     * added). 2: options typed (numbers, booleans), inputs.base null without a base; the untyped form had no number.
     */
    public static final int SCHEMA = 2;

    public MergeReport(String method, String device, String out, List<TensorRecord> tensors, List<String> warnings,
                       double seconds, long outputBytes) {
        this(method, device, out, tensors, warnings, seconds, outputBytes, RunInfo.none());
    }

    /** Tensors in which some model's task vector was exactly zero (left out of WUDI's loss there). */
    public long zeroTaskVectorTensors() {
        return tensors.stream().filter(t -> !t.zeroTaskVectors().isEmpty()).count();
    }

    /** Tensors WUDI optimised. */
    public int optimisedCount() {
        return (int) tensors.stream().filter(t -> !Double.isNaN(t.lossBefore()) && t.method().equals("wudi")).count();
    }

    /**
     * Tensors with an interference loss: those WUDI optimised, or those of another method scored with WUDI's loss
     * (--interference-loss); the totals sum over these.
     */
    public int scoredCount() {
        return (int) tensors.stream().filter(t -> !Double.isNaN(t.lossBefore())).count();
    }

    /**
     * "optimised tensors", or for another method "linear weights (WUDI's loss of this method's merge)". A WUDI merge
     * with a coefficient (--scale other than 1, or auto: the default merge) reports the loss of WUDI's solution tau_m,
     * not of the weights it wrote, and says so.
     */
    public String lossScope() {
        if (optimisedCount() != scoredCount()) {
            return "linear weights (WUDI's loss at the sum of task vectors, and of this merge)";
        }
        return method.startsWith("wudi (") && method.contains(", scale ")
                ? "optimised tensors (WUDI's solution tau_m, before the coefficient or average written)"
                : "optimised tensors";
    }

    public double totalLossBefore() {
        return tensors.stream().filter(t -> !Double.isNaN(t.lossBefore())).mapToDouble(TensorRecord::lossBefore).sum();
    }

    public double totalLossAfter() {
        return tensors.stream().filter(t -> !Double.isNaN(t.lossAfter())).mapToDouble(TensorRecord::lossAfter).sum();
    }

    public ObjectNode toJson() {
        ObjectMapper mapper = new ObjectMapper();
        ObjectNode root = mapper.createObjectNode();
        root.put("schema", SCHEMA);
        root.put("tool", run.tool());
        root.put("version", run.version());
        root.put("method", method);
        root.put("device", device);
        root.put("out", out);
        ObjectNode inputs = root.putObject("inputs");
        if (run.base().isEmpty()) {
            inputs.putNull("base");
        } else {
            inputs.put("base", run.base());
        }
        ArrayNode models = inputs.putArray("models");
        run.models().forEach(models::add);
        ObjectNode opts = root.putObject("options");
        run.options().forEach((k, v) -> opts.set(k, optionValue(k, v)));
        root.put("command", run.command());
        ArrayNode actions = root.putArray("actions");
        run.actions().forEach(actions::add);
        ArrayNode notes = root.putArray("notes");
        run.notes().forEach(notes::add);
        ArrayNode extras = root.putArray("models_tensors_not_in_output");
        run.extras().forEach(extras::add);
        ArrayNode arr = root.putArray("tensors");
        for (TensorRecord t : tensors) {
            ObjectNode n = arr.addObject();
            n.put("name", t.name());
            n.put("method", t.method());
            n.put("role", t.role());
            n.put("layout", t.layout());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            n.put("dtype", t.dtype());
            putLoss(n, "loss_before", t.lossBefore());
            putLoss(n, "loss_after", t.lossAfter());
            n.put("seconds", t.seconds());
            if (!t.leftOut().isEmpty()) {
                ArrayNode lo = n.putArray("models_left_out");
                t.leftOut().forEach(lo::add);
            }
            if (!t.zeroTaskVectors().isEmpty()) {
                ArrayNode z = n.putArray("zero_task_vectors");
                t.zeroTaskVectors().forEach(z::add);
            }
            if (!t.details().isEmpty()) {
                ObjectNode solver = n.putObject("solver");
                t.details().entrySet().stream().sorted(java.util.Map.Entry.comparingByKey())
                        .forEach(e -> putLoss(solver, e.getKey(), e.getValue()));
            }
        }
        ObjectNode totals = root.putObject("totals");
        totals.put("tensors", tensors.size());
        totals.put("optimised", optimisedCount());
        totals.put("tensors_with_zero_task_vectors", zeroTaskVectorTensors());
        totals.put("scored", scoredCount());
        putLoss(totals, "loss_before", scoredCount() == 0 ? Double.NaN : totalLossBefore());
        putLoss(totals, "loss_after", scoredCount() == 0 ? Double.NaN : totalLossAfter());
        totals.put("seconds", seconds);
        totals.put("output_bytes", outputBytes);
        ArrayNode w = root.putArray("warnings");
        warnings.forEach(w::add);
        return root;
    }

    /** A whole number, or a decimal number as the JSON grammar spells one; or the text the Java grammar reads so. */
    private static final Pattern NUMBER = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?");

    /**
     * An option's value as the JSON report types it: a flag as a boolean, a number as a number of the value given
     * (--lr 1e-5 is 1.0E-5, never a float widened to 9.99999974737875E-6), a word ("5GB", "auto", "base") as a
     * string. Regexes stay strings whatever they look like.
     */
    static JsonNode optionValue(String name, String text) {
        MergeOption o = OptionTable.byName("--" + name);
        if (o != null && o.flag()) {
            return BooleanNode.valueOf(!text.equals("false"));
        }
        if (o == OptionTable.INCLUDE || o == OptionTable.EXCLUDE || o == OptionTable.LAYOUT
                || !NUMBER.matcher(text.trim()).matches()) {
            return TextNode.valueOf(text);
        }
        String t = text.trim();
        if (t.matches("[-+]?\\d{1,18}")) {
            return LongNode.valueOf(Long.parseLong(t));
        }
        return DoubleNode.valueOf(Double.parseDouble(t));
    }

    private static void putLoss(ObjectNode n, String key, double v) {
        if (Double.isNaN(v)) {
            n.putNull(key);
        } else {
            n.put(key, v);
        }
    }

    /** Writes the JSON report atomically (temporary file, then rename). */
    public void write(Path file) throws IOException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Path abs = file.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp");
        Files.writeString(tmp, mapper.writeValueAsString(toJson()) + "\n");
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
