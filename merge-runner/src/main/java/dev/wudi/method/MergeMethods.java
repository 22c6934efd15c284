package dev.wudi.method;

import java.util.List;
import java.util.Locale;

/** The registry of merge methods, selected with --method NAME. */
public final class MergeMethods {

    public static final MergeMethod WUDI = new MergeMethod("wudi",
            "WUDI-Merging: minimise the data-free interference loss with Adam from the sum of task vectors",
            "Cheng et al., Whoever Started the Interference Should End It, ICML 2025, arXiv:2503.08099",
            List.of(new MethodParam("lr", 1e-5, "Adam learning rate (the paper's 1e-5)"),
                    new MethodParam("iters", 300, "Adam iterations (the paper's 300)"),
                    new MethodParam("scale", 1.0, "the merged weight is W0 + scale * tau_m (1: the paper's, no"
                            + " rescaling; published LLM merges use 0.3-0.5)")),
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

    /** On the command line for every model; a config gives density and weight per model and scale as lambda. */
    private static final List<MethodParam> SPARSE_PARAMS = List.of(
            new MethodParam("density", 1.0, "fraction of each task vector kept, 1: none dropped (a config: per model,"
                    + " with a per-model weight)"),
            new MethodParam("scale", 1.0, "coefficient on the merged task vector (a config's lambda)"));

    public static final MergeMethod DARE_LINEAR = new MergeMethod("dare-linear",
            "drop each task-vector element with probability 1 - density, rescale (L1), weighted sum",
            "Yu et al., Language Models are Super Mario, ICML 2024, arXiv:2311.03099", SPARSE_PARAMS,
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod DARE_TIES = new MergeMethod("dare-ties",
            "DARE's random drop and rescale, then TIES' sign election and disjoint sum",
            "Yu et al., Language Models are Super Mario, ICML 2024, arXiv:2311.03099", SPARSE_PARAMS,
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod BREADCRUMBS = new MergeMethod("breadcrumbs",
            "drop each task vector's gamma largest and smallest magnitudes (keep density), weighted sum",
            "Davari and Belilovsky, Model Breadcrumbs, ECCV 2024, arXiv:2312.06795", SPARSE_PARAMS,
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod BREADCRUMBS_TIES = new MergeMethod("breadcrumbs-ties",
            "Model Breadcrumbs' outlier drop, then TIES' sign election",
            "Davari and Belilovsky, Model Breadcrumbs, ECCV 2024, arXiv:2312.06795", SPARSE_PARAMS,
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod DELLA = new MergeMethod("della",
            "drop elements with probabilities by magnitude rank (density +- epsilon), rescale, TIES' sign election",
            "Deep et al., DELLA-Merging, arXiv:2406.11617", SPARSE_PARAMS, MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod DELLA_LINEAR = new MergeMethod("della-linear",
            "DELLA's magnitude-ranked drop and rescale, weighted sum",
            "Deep et al., DELLA-Merging, arXiv:2406.11617", SPARSE_PARAMS, MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod SLERP = new MergeMethod("slerp",
            "spherical interpolation between the base (t = 0) and one model (t = 1), per tensor",
            "Shoemake, Animating rotation with quaternion curves, SIGGRAPH 1985",
            List.of(new MethodParam("t", Double.NaN, "the interpolation point, required (a config: per tensor)")),
            MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod NUSLERP = new MergeMethod("nuslerp",
            "spherical interpolation of two models' task vectors at t = w_1 / (w_0 + w_1), added to the base",
            "mergekit's nuslerp (a config gives the weights)", List.of(), MergeMethod.Scope.ALL_FLOATING);

    public static final MergeMethod MODEL_STOCK = new MergeMethod("model-stock",
            "W0 + t (mean of the models - W0), t from the mean angle between the task vectors",
            "Jang et al., Model Stock: All we need is just a few fine-tuned models, ECCV 2024, arXiv:2403.19522",
            List.of(), MergeMethod.Scope.ALL_FLOATING);

    private static final List<MergeMethod> ALL = List.of(WUDI, TASK_ARITHMETIC, AVERAGE, TIES, DARE_LINEAR, DARE_TIES,
            BREADCRUMBS, BREADCRUMBS_TIES, DELLA, DELLA_LINEAR, SLERP, NUSLERP, MODEL_STOCK);

    /** mergekit's names for methods registered here under another: linear is the (weighted) average. */
    private static final java.util.Map<String, MergeMethod> ALIASES = java.util.Map.of("linear", AVERAGE);

    private MergeMethods() {
    }

    public static List<MergeMethod> all() {
        return ALL;
    }

    /** By name; mergekit's spellings (task_arithmetic, dare_ties, linear) name the same methods. */
    public static MergeMethod byName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        if (ALIASES.containsKey(n)) {
            return ALIASES.get(n);
        }
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
