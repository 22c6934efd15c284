package dev.wudi.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.wudi.merge.ActionSummary;
import dev.wudi.merge.CostModel;
import dev.wudi.spec.MergeSpec;
import dev.wudi.merge.MergePlan;
import dev.wudi.model.Layout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * `wudi plan` (and `merge --dry-run`): the plan as a table, one row per output tensor (role, layout, shape, what
 * will be done, how many models take part, estimated flops, peak memory and time on the chosen device), then what
 * will be done to each kind of tensor (in the words the report and the model card use), why each layout was chosen,
 * the fine-tunes' tensors the output will not hold, the notes, and the totals; or the same as one JSON document.
 */
final class PlanPrinter {

    /** Tensor names shown per line of the text; the JSON has every one. */
    private static final int LIST_AT_MOST = 6;

    private final MergeSpec options;
    private final MergePlan plan;
    private final String method;
    private final String device;
    private final double flopsPerSecond;

    PlanPrinter(MergeSpec options, MergePlan plan, String method, String device, double flopsPerSecond) {
        this.options = options;
        this.plan = plan;
        this.method = method;
        this.device = device;
        this.flopsPerSecond = flopsPerSecond;
    }

    private CostModel.Cost cost(MergePlan.Entry e) {
        return CostModel.of(e, options, flopsPerSecond, CostModel.NOMINAL_READ_BYTES);
    }

    /** The whole merge: flops and seconds add up, the peak is the largest tensor's (one is solved at a time). */
    private CostModel.Cost total() {
        double flops = 0;
        long peak = 0;
        double seconds = 0;
        for (MergePlan.Entry e : plan.entries()) {
            CostModel.Cost c = cost(e);
            flops += c.flops();
            peak = Math.max(peak, c.peakBytes());
            seconds += c.seconds();
        }
        return new CostModel.Cost(flops, peak, seconds);
    }

    String text() {
        StringBuilder s = new StringBuilder();
        s.append("plan: ").append(method).append(" on ").append(device)
                .append(String.format(Locale.ROOT, " (Adam step measured at %.1f GFLOP/s)%n", flopsPerSecond / 1e9));
        Path shownBase = options.base() != null ? options.base() : dev.wudi.lora.ZeroBase.PATH;
        if (options.baseStandsIn()) {
            s.append("base: none (model 1 gives the tensor names and layout)\n");
        } else {
            s.append("base: ").append(shownBase).append(describe(plan.baseConfig().modelType(),
                    plan.baseConfig().architectures())).append('\n');
        }
        for (int i = 0; i < options.models().size(); i++) {
            s.append("model ").append(i + 1).append(": ").append(options.models().get(i))
                    .append(describe(plan.modelConfigs().get(i).modelType(), plan.modelConfigs().get(i).architectures()))
                    .append('\n');
        }
        s.append('\n');
        int nameWidth = 6;
        for (MergePlan.Entry e : plan.entries()) {
            nameWidth = Math.max(nameWidth, e.name().length());
        }
        nameWidth = Math.min(nameWidth, 64);
        String fmt = "%-" + nameWidth + "s  %-9s  %-14s  %-16s  %-28s  %6s  %10s  %9s  %9s%n";
        s.append(String.format(Locale.ROOT, fmt, "tensor", "role", "layout", "shape", "action", "models", "GFLOP",
                "peak MB", "est. s"));
        for (MergePlan.Entry e : plan.entries()) {
            CostModel.Cost c = cost(e);
            String shape = Arrays.toString(e.outShape()) + (e.grown() ? "*" : "");
            s.append(String.format(Locale.ROOT, fmt, e.name(), e.role().label(), e.layout().label(), shape, e.label(),
                    e.models().size() + (e.leftOut().isEmpty() ? "" : "/" + options.models().size()),
                    String.format(Locale.ROOT, "%.2f", c.flops() / 1e9),
                    String.format(Locale.ROOT, "%.1f", c.peakBytes() / 1e6),
                    String.format(Locale.ROOT, "%.2f", c.seconds())));
        }
        s.append('\n');
        s.append("what will be done to each tensor:\n");
        actions().forEach(a -> s.append("  ").append(a).append('\n'));
        Map<String, Integer> sources = new LinkedHashMap<>();
        for (MergePlan.Entry e : plan.entries()) {
            if (e.action() == MergePlan.Action.METHOD && e.layout() != Layout.VECTOR) {
                sources.merge(e.layout().label() + ": " + e.layoutSource(), 1, Integer::sum);
            }
        }
        if (!sources.isEmpty()) {
            s.append("layouts of the tensors the method computes:\n");
            sources.forEach((k, n) -> s.append("  ").append(n).append(" x ").append(k).append('\n'));
        }
        // per model and reason, the tensors: an adapter on c_attn alone is left out of every other weight
        Map<Integer, Map<String, List<String>>> left = new java.util.TreeMap<>();
        for (MergePlan.Entry e : plan.entries()) {
            e.leftOut().forEach((k, why) -> left.computeIfAbsent(k, x -> new LinkedHashMap<>())
                    .computeIfAbsent(why, x -> new ArrayList<>()).add(e.name()));
        }
        if (!left.isEmpty()) {
            s.append("models left out of a tensor:\n");
            left.forEach((k, reasons) -> reasons.forEach((why, names) -> s.append("  model ").append(k + 1)
                    .append(" left out of ").append(names.size()).append(names.size() == 1 ? " tensor (" : " tensors (")
                    .append(why).append("): ").append(String.join(", ", names.subList(0, Math.min(LIST_AT_MOST,
                            names.size())))).append(names.size() > LIST_AT_MOST ? ", ..." : "").append('\n')));
        }
        if (!plan.extras().isEmpty()) {
            s.append("fine-tunes' tensors not in the output as such:\n");
            for (MergePlan.Extra x : plan.extras()) {
                s.append("  model ").append(x.model() + 1).append(": ").append(x.name()).append(' ')
                        .append(x.ref().info().shapeString()).append(": ").append(x.fate()).append('\n');
            }
        }
        if (!plan.notes().isEmpty()) {
            s.append("notes:\n");
            plan.notes().forEach(n -> s.append("  ").append(n).append('\n'));
        }
        if (plan.entries().stream().anyMatch(MergePlan.Entry::grown)) {
            s.append("* rows added past the base's vocabulary\n");
        }
        CostModel.Cost t = total();
        s.append(String.format(Locale.ROOT, "total: %d tensor%s, %d computed by %s; %.3g GFLOP, peak %.1f MB of"
                        + " solver state, about %s on %s (an estimate: reading the inputs at %.0f MB/s)%n",
                plan.entries().size(), plan.entries().size() == 1 ? "" : "s", plan.methodCount(), options.method().name(),
                t.flops() / 1e9, t.peakBytes() / 1e6, Durations.text(t.seconds()), device, CostModel.NOMINAL_READ_BYTES / 1e6));
        return s.toString();
    }

    String json() throws com.fasterxml.jackson.core.JsonProcessingException {
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = mapper.createObjectNode();
        root.put("schema", JsonProgress.SCHEMA);
        root.put("method", method);
        root.put("device", device);
        root.put("step_flops_per_second", flopsPerSecond);
        if (options.baseStandsIn() || options.base() == null) {
            root.putNull("base");
        } else {
            root.put("base", String.valueOf(options.base()));
        }
        ArrayNode models = root.putArray("models");
        options.models().forEach(p -> models.add(p.toString()));
        ArrayNode tensors = root.putArray("tensors");
        for (MergePlan.Entry e : plan.entries()) {
            CostModel.Cost c = cost(e);
            ObjectNode n = tensors.addObject();
            n.put("name", e.name());
            n.put("role", e.role().label());
            n.put("layout", e.layout().label());
            n.put("layout_source", e.layoutSource());
            if (e.layout() != Layout.VECTOR && e.base() != null && e.layout().fits(e.base().info().rank())) {
                Layout.Matrices m = e.layout().matrices(e.base().info().shape());
                ObjectNode mm = n.putObject("matrices");
                mm.put("count", m.count());
                mm.put("out", m.rows());
                mm.put("in", m.cols());
                mm.put("stored_transposed", m.transposed());
            }
            ArrayNode shape = n.putArray("shape");
            for (long d : e.outShape()) {
                shape.add(d);
            }
            if (e.grown()) {
                n.put("base_rows", e.baseRows());
            }
            n.put("dtype", e.outDType().name());
            n.put("action", e.action().name().toLowerCase(Locale.ROOT));
            n.put("label", e.label());
            ArrayNode in = n.putArray("models");
            e.models().forEach(k -> in.add(k + 1));
            if (!e.leftOut().isEmpty()) {
                ObjectNode lo = n.putObject("models_left_out");
                e.leftOut().forEach((k, why) -> lo.put(String.valueOf(k + 1), why));
            }
            n.put("flops", c.flops());
            n.put("peak_bytes", c.peakBytes());
            n.put("seconds", c.seconds());
        }
        ArrayNode actions = root.putArray("actions");
        actions().forEach(actions::add);
        ArrayNode extras = root.putArray("models_tensors_not_in_output");
        for (MergePlan.Extra x : plan.extras()) {
            ObjectNode n = extras.addObject();
            n.put("model", x.model() + 1);
            n.put("name", x.name());
            n.put("role", x.role().label());
            ArrayNode shape = n.putArray("shape");
            for (long d : x.ref().info().shape()) {
                shape.add(d);
            }
            n.put("fate", x.fate());
        }
        ArrayNode notes = root.putArray("notes");
        plan.notes().forEach(notes::add);
        ObjectNode totals = root.putObject("totals");
        totals.put("tensors", plan.entries().size());
        totals.put("computed_by_method", plan.methodCount());
        CostModel.Cost t = total();
        totals.put("flops", t.flops());
        totals.put("peak_bytes", t.peakBytes());
        totals.put("seconds", t.seconds());
        return mapper.writeValueAsString(root);
    }

    /** What will be done to each kind of tensor, in the words the report and the model card will say it. */
    private List<String> actions() {
        return ActionSummary.of(plan, options.method() == dev.wudi.method.MergeMethods.WUDI);
    }

    private static String describe(String type, List<String> arch) {
        if (type.isEmpty() && arch.isEmpty()) {
            return " (no config.json)";
        }
        return " (" + (type.isEmpty() ? "" : type) + (arch.isEmpty() ? "" : (type.isEmpty() ? "" : ", ")
                + String.join(", ", arch)) + ")";
    }
}
