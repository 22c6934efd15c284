package dev.wudi.method;

import java.util.List;
import java.util.Locale;

/** The registry of merge methods, selected with --method NAME. */
public final class MergeMethods {

    public static final MergeMethod WUDI = new MergeMethod("wudi",
            "WUDI-Merging: minimise the data-free interference loss with Adam from the sum of task vectors",
            "Cheng et al., Whoever Started the Interference Should End It, ICML 2025, arXiv:2503.08099",
            List.of(new MethodParam("lr", 1e-5, "Adam learning rate (the paper's 1e-5)"),
                    new MethodParam("iters", 300, "Adam iterations (the paper's 300)")),
            MergeMethod.Scope.LINEAR_WEIGHTS);

    public static final MergeMethod TASK_ARITHMETIC = new MergeMethod("task-arithmetic",
            "W0 + scale * sum of task vectors",
            "Ilharco et al., Editing Models with Task Arithmetic, ICLR 2023, arXiv:2212.04089",
            List.of(new MethodParam("scale", 0.3, "coefficient on the summed task vectors")),
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod AVERAGE = new MergeMethod("average",
            "mean of the fine-tuned weights (model soup)",
            "Wortsman et al., Model soups, ICML 2022, arXiv:2203.05482",
            List.of(), MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod TIES = new MergeMethod("ties",
            "trim to top-density magnitudes, elect signs, disjoint mean, times scale",
            "Yadav et al., TIES-Merging, NeurIPS 2023, arXiv:2306.01708",
            List.of(new MethodParam("density", 0.2, "fraction of each task vector's largest magnitudes kept"),
                    new MethodParam("scale", 1.0, "coefficient on the merged task vector")),
            MergeMethod.Scope.ALL_FLOATING);

    private static final List<MergeMethod> ALL = List.of(WUDI, TASK_ARITHMETIC, AVERAGE, TIES);

    private MergeMethods() {
    }

    public static List<MergeMethod> all() {
        return ALL;
    }

    public static MergeMethod byName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        for (MergeMethod m : ALL) {
            if (m.name().equals(n)) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown method '" + name + "' (choose from " + names() + ")");
    }

    public static String names() {
        StringBuilder sb = new StringBuilder();
        for (MergeMethod m : ALL) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(m.name());
        }
        return sb.toString();
    }
}
