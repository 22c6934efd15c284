package dev.wudi.merge;

import dev.wudi.method.HarmSignals;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a rule decided for a tensor ({@link TensorRecord#details()}, keyed for the JSON report) in words a reader of
 * the HTML report follows without the source: "lr 1.2e-05 (--lr auto, task-vector RMS 3.4e-04)", "rank used 87",
 * "eigendecomposition 0.31 s". Keys this class does not know are shown as key and value.
 */
public final class SolverDetails {

    private SolverDetails() {
    }

    /** The details as phrases, in a fixed order (known keys first, in the order a reader needs them). */
    public static List<String> phrases(Map<String, Double> d) {
        List<String> out = new ArrayList<>();
        Map<String, Double> rest = new java.util.TreeMap<>(d);
        Double zero = rest.remove("all_task_vectors_zero");
        if (zero != null && zero != 0) {
            out.add("every task vector is zero here: the base is kept, nothing to solve");
        }
        Double lr = rest.remove("lr");
        Double rms = rest.remove("task_vector_rms");
        // the task-vector RMS is recorded only where --lr auto chose the lr from it: a fixed lr is just the lr
        if (lr != null && rms != null) {
            out.add("lr " + fmt("%.3g", lr) + " (--lr auto, task-vector RMS " + fmt("%.3g", rms) + ")");
        } else if (lr != null) {
            out.add("lr " + fmt("%.3g", lr));
        } else if (rms != null) {
            out.add("task-vector RMS " + fmt("%.3g", rms));
        }
        Double param = rest.remove("filter_param");
        if (param != null) {
            out.add("filter parameter " + fmt("%.3g", param));
        }
        Double rank = rest.remove("rank_used");
        if (rank != null) {
            out.add("rank used " + count(rank));
        }
        Double lora = rest.remove("lora_rank");
        if (lora != null) {
            out.add("solved in the span of the LoRA factors (rank " + count(lora) + ")");
        }
        Double eigen = rest.remove("eigen_seconds");
        if (eigen != null) {
            out.add("eigendecomposition " + fmt("%.3g", eigen) + " s");
        }
        Double matrices = rest.remove("matrices");
        if (matrices != null) {
            out.add(count(matrices) + " matrices (experts), each solved on its own; figures are per-matrix means");
        }
        Double zeroMatrices = rest.remove("matrices_with_all_task_vectors_zero");
        if (zeroMatrices != null) {
            out.add(count(zeroMatrices) + " of them with every task vector zero (kept as the base)");
        }
        Double adapterRank = rest.remove("adapter_rank");
        Double adapterError = rest.remove("adapter_relative_error");
        if (adapterRank != null) {
            out.add("adapter rank " + count(adapterRank) + (adapterError == null ? ""
                    : ", relative error of the truncation " + fmt("%.2g", adapterError)));
        } else if (adapterError != null) {
            out.add("adapter relative error " + fmt("%.2g", adapterError));
        }
        Double coefficient = rest.remove("coefficient");
        Double coverage = rest.remove("coverage");
        Double ofAverage = rest.remove("average_fraction");
        if (coefficient != null) {
            out.add((coefficient == 0 ? fmt("%.3g", ofAverage == null ? 1.0 : ofAverage) + " x the models' average"
                    : fmt("%.3g", coefficient) + " x tau_m")
                    + " (--scale auto; the task vectors span " + fmt("%.2f", coverage == null ? 0 : coverage)
                    + " of the input space)");
        } else if (coverage != null) {
            out.add("the task vectors span " + fmt("%.2f", coverage) + " of the input space");
        }
        Double distance = rest.remove(HarmSignals.DISTANCE_FROM_SUM);
        if (distance != null) {
            out.add("tau_m at " + fmt("%.2f", distance) + " of the sum's length from the sum of the task vectors");
        }
        if (rest.remove(HarmSignals.LIKELY_HURTS) != null) {
            out.add("likely worse than averaging (see the warnings)");
        }
        Double added = rest.remove("added_rows");
        if (added != null) {
            out.add(count(added) + " rows added (tokens the base lacks)");
        }
        rest.forEach((k, v) -> out.add(k.replace('_', ' ') + " " + fmt("%.3g", v)));
        return out;
    }

    /** The phrases joined with "; ", or "" when there are none. */
    public static String describe(Map<String, Double> d) {
        return String.join("; ", phrases(d));
    }

    private static String count(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : fmt("%.3g", v);
    }

    private static String fmt(String f, double v) {
        return String.format(Locale.ROOT, f, v);
    }
}
