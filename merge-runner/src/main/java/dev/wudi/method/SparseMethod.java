package dev.wudi.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * mergekit's sparsifying task arithmetic family ({@link SparseTaskArithmetic}): a way to drop elements of each task
 * vector (DARE's random drop, Model Breadcrumbs' outliers, DELLA's magnitude-ranked drop), with or without TIES' sign
 * consensus, and mergekit's defaults for normalize and rescale. Each variant is one line of {@link MergeMethods}.
 */
final class SparseMethod extends MergeMethod {

    /** On the command line for every model; a config gives density and weight per model and scale as lambda. */
    private static final List<MethodParam> PARAMS = List.of(
            new MethodParam("density", 1.0, "fraction of each task vector kept, 1: none dropped (a config: per model,"
                    + " with a per-model weight)"),
            new MethodParam("scale", 1.0, "coefficient on the merged task vector (a config's lambda)"));

    private final SparseTaskArithmetic.Sparsify sparsify;
    private final boolean consensus;
    private final boolean normalizeDefault;
    private final boolean rescaleDefault;

    /**
     * @param consensus        TIES' sign election after the drop
     * @param normalizeDefault mergekit's default for normalize
     * @param rescaleDefault   mergekit's default for rescale (the kept elements scaled back up)
     */
    SparseMethod(String name, String summary, String reference, SparseTaskArithmetic.Sparsify sparsify,
                 boolean consensus, boolean normalizeDefault, boolean rescaleDefault) {
        super(name, summary, reference, PARAMS, Scope.ALL_FLOATING);
        this.sparsify = sparsify;
        this.consensus = consensus;
        this.normalizeDefault = normalizeDefault;
        this.rescaleDefault = rescaleDefault;
    }

    @Override
    public boolean random() {
        return sparsify != SparseTaskArithmetic.Sparsify.OUTLIERS;
    }

    @Override
    public ConfigParams config() {
        Map<String, Object> d = new LinkedHashMap<>();        // in the order the config as run writes them
        d.put("lambda", 1.0);
        d.put("normalize", normalizeDefault);
        d.put("rescale", rescaleDefault);
        d.put("density", 1.0);
        Set<String> perModel;
        switch (sparsify) {
            case OUTLIERS -> {
                d.put("gamma", 0.01);
                perModel = Set.of("weight", "density", "gamma");
            }
            case DELLA -> {
                d.put("epsilon", 0.15);
                perModel = Set.of("weight", "density", "epsilon");
            }
            default -> perModel = Set.of("weight", "density");
        }
        return new ConfigParams(GTA_GLOBAL, perModel, Set.of("weight"), d);
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new SparseTaskArithmetic(name(), sparsify, consensus, normalizeDefault, rescaleDefault, s.seed(),
                s.density(), s.scale());
    }

    @Override
    protected Map<String, String> settings(MethodSettings s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("density", String.valueOf(s.density()));
        m.put("scale", String.valueOf(s.scale()));
        m.put("seed", String.valueOf(s.seed()));
        return m;
    }
}
