package dev.wudi.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;

/**
 * The registry of merge methods, selected with --method NAME (or a config's merge_method): one line per method. A
 * method is one object ({@link MergeMethod}): adding one is its class and its line in {@link #ALL}, or, from outside
 * this project, its class and its line in a {@code META-INF/services/dev.wudi.method.MergeMethod} file on the class
 * path ({@link ServiceLoader}).
 */
public final class MergeMethods {

    private static final String DARE = "Yu et al., Language Models are Super Mario, ICML 2024, arXiv:2311.03099";
    private static final String BREADCRUMBS_REF = "Davari and Belilovsky, Model Breadcrumbs, ECCV 2024, arXiv:2312.06795";
    private static final String DELLA_REF = "Deep et al., DELLA-Merging, arXiv:2406.11617";
    private static final SparseTaskArithmetic.Sparsify RANDOM = SparseTaskArithmetic.Sparsify.RANDOM;
    private static final SparseTaskArithmetic.Sparsify OUTLIERS = SparseTaskArithmetic.Sparsify.OUTLIERS;

    public static final MergeMethod WUDI = new WudiMethod();
    public static final MergeMethod TASK_ARITHMETIC = new TaskArithmeticMethod();
    public static final MergeMethod AVERAGE = new AverageMethod();
    public static final MergeMethod TIES = new TiesMethod();

    /** Every method, in the order `wudi methods` lists them: these, then those found on the class path. */
    private static final List<MergeMethod> ALL = withAdded(WUDI, TASK_ARITHMETIC, AVERAGE, TIES,
            new SparseMethod("dare-linear", "drop each task-vector element with probability 1 - density, rescale (L1),"
                    + " weighted sum", DARE, RANDOM, false, false, true),
            new SparseMethod("dare-ties", "DARE's random drop and rescale, then TIES' sign election and disjoint sum",
                    DARE, RANDOM, true, false, true),
            new SparseMethod("breadcrumbs", "drop each task vector's gamma largest and smallest magnitudes (keep"
                    + " density), weighted sum", BREADCRUMBS_REF, OUTLIERS, false, false, false),
            new SparseMethod("breadcrumbs-ties", "Model Breadcrumbs' outlier drop, then TIES' sign election",
                    BREADCRUMBS_REF, OUTLIERS, true, false, false),
            new SparseMethod("della", "drop elements with probabilities by magnitude rank (density +- epsilon),"
                    + " rescale, TIES' sign election", DELLA_REF, SparseTaskArithmetic.Sparsify.DELLA, true, true, true),
            new SparseMethod("della-linear", "DELLA's magnitude-ranked drop and rescale, weighted sum", DELLA_REF,
                    SparseTaskArithmetic.Sparsify.DELLA, false, false, true),
            new SlerpMethod(),
            new NuSlerpMethod(),
            new ModelStockMethod());

    /** By name and alias, mergekit's spellings (task_arithmetic) as the command line's (task-arithmetic). */
    private static final Map<String, MergeMethod> BY_NAME = byName();

    private MergeMethods() {
    }

    /** The built-in methods and those a class path adds, each name (and alias) once. */
    private static List<MergeMethod> withAdded(MergeMethod... builtIn) {
        List<MergeMethod> all = new java.util.ArrayList<>(List.of(builtIn));
        for (MergeMethod m : ServiceLoader.load(MergeMethod.class, MergeMethods.class.getClassLoader())) {
            all.add(m);
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (MergeMethod m : all) {
            for (String n : concat(m.name(), m.aliases())) {
                if (!seen.add(n.replace('_', '-'))) {
                    throw new IllegalStateException("merge method " + n + " is registered twice (" + m.getClass()
                            .getName() + ")");
                }
            }
        }
        return List.copyOf(all);
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> l = new java.util.ArrayList<>(rest);
        l.add(0, first);
        return l;
    }

    private static Map<String, MergeMethod> byName() {
        Map<String, MergeMethod> m = new LinkedHashMap<>();
        for (MergeMethod x : ALL) {
            m.put(x.name(), x);
            x.aliases().forEach(a -> m.put(a, x));
        }
        return m;
    }

    public static List<MergeMethod> all() {
        return ALL;
    }

    /** By name; mergekit's spellings (task_arithmetic, dare_ties, linear) name the same methods. */
    public static MergeMethod byName(String name) {
        MergeMethod m = BY_NAME.get(name.trim().toLowerCase(Locale.ROOT).replace('_', '-'));
        if (m == null) {
            throw new IllegalArgumentException("unknown method '" + name + "' (choose from " + names() + ")");
        }
        return m;
    }

    /** "wudi, task-arithmetic, average, ...": every method's name, in registry order. */
    public static String names() {
        return String.join(", ", ALL.stream().map(MergeMethod::name).toList());
    }

    /** The names of the methods for which p holds, in registry order: "dare-linear, dare-ties, della". */
    public static String namesWhere(java.util.function.Predicate<MergeMethod> p) {
        return String.join(", ", ALL.stream().filter(p).map(MergeMethod::name).toList());
    }
}
