package dev.wudi.merge;

import dev.wudi.model.TensorRole;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a merge does to each kind of tensor, counted from its plan: one line per action and role ("8 linear tensors:
 * wudi (adam), each solved as the paper's [out, in] (8 stored [in, out], as Conv1D stores them)"), then one per model
 * that takes no part in some tensors, with why, and one per model and fate of the fine-tunes' tensors the output
 * does not hold as such (heads saved or left out, buffers). The plan says it before a merge, and the reports and the
 * model card say it after, in the same words.
 */
public final class ActionSummary {

    private ActionSummary() {
    }

    /** @param wudi whether the method is WUDI (whose solve sees the matrices in the paper's orientation) */
    public static List<String> of(MergePlan plan, boolean wudi) {
        Map<String, Group> groups = new LinkedHashMap<>();
        Map<String, Integer> leftOut = new LinkedHashMap<>();
        for (MergePlan.Entry e : plan.entries()) {
            Group g = groups.computeIfAbsent(e.label() + "|" + e.role().label(), k -> new Group(e));
            g.count++;
            g.transposed += e.layout().transposed() ? 1 : 0;
            g.stacked += e.layout().stacked() ? 1 : 0;
            g.grown += e.grown() ? 1 : 0;
            e.leftOut().forEach((k, why) -> leftOut.merge("model " + (k + 1) + "|" + why, 1, Integer::sum));
        }
        List<String> out = new ArrayList<>();
        for (Group g : groups.values()) {
            out.add(g.line(wudi));
        }
        leftOut.forEach((key, n) -> {
            String[] p = key.split("\\|", 2);
            out.add(p[0] + " takes no part in " + n + " tensor" + (n == 1 ? "" : "s") + ": " + p[1]);
        });
        Map<String, List<String>> fates = new LinkedHashMap<>();
        for (MergePlan.Extra x : plan.extras()) {
            fates.computeIfAbsent("model " + (x.model() + 1) + "|" + x.fate(), k -> new ArrayList<>()).add(x.name());
        }
        fates.forEach((key, names) -> {
            String[] p = key.split("\\|", 2);
            int n = names.size();
            out.add(p[0] + ": " + n + " tensor" + (n == 1 ? "" : "s") + " not in the output as such (" + some(names)
                    + "): " + p[1]);
        });
        return out;
    }

    /** The first four names, and "..." for the rest. */
    static String some(List<String> names) {
        return String.join(", ", names.subList(0, Math.min(4, names.size()))) + (names.size() > 4 ? ", ..." : "");
    }

    /** The entries of one action on one role. */
    private static final class Group {
        final MergePlan.Entry first;
        int count;
        int transposed;
        int stacked;
        int grown;

        Group(MergePlan.Entry first) {
            this.first = first;
        }

        String line(boolean wudi) {
            StringBuilder b = new StringBuilder();
            b.append(count).append(' ').append(first.role().label()).append(count == 1 ? " tensor: " : " tensors: ")
                    .append(first.label());
            // only WUDI's solve depends on how a matrix lies; an element-wise method treats every layout alike
            boolean solved = wudi && first.action() == MergePlan.Action.METHOD;
            if (solved && first.role() == TensorRole.LINEAR && transposed > 0) {
                b.append(", each solved as the paper's [out, in] (").append(transposed)
                        .append(" stored [in, out], as Conv1D stores them)");
            }
            if (solved && stacked > 0) {
                b.append(" (").append(stacked).append(" stacks of experts, each expert solved as its own layer)");
            }
            if (grown > 0) {
                b.append(" (").append(grown).append(grown == 1 ? " has" : " have")
                        .append(" rows past the base's vocabulary: the mean of the models that have them)");
            }
            return b.toString();
        }
    }
}
