package dev.wudi.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** mergekit's nuslerp: two models' task vectors interpolated spherically by their weights ({@link NuSlerp}). */
final class NuSlerpMethod extends MergeMethod {

    NuSlerpMethod() {
        super("nuslerp", "spherical interpolation of two models' task vectors at t = w_1 / (w_0 + w_1), added to the base",
                "mergekit's nuslerp (a config gives the weights)", List.of(), Scope.ALL_FLOATING);
    }

    @Override
    public boolean needsBase() {
        return false;                                      // then the models themselves are interpolated
    }

    @Override
    public ConfigParams config() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("nuslerp_flatten", true);
        d.put("nuslerp_row_wise", false);
        return new ConfigParams(Set.of("nuslerp_flatten", "nuslerp_row_wise"), Set.of("weight"), Set.of("weight"), d);
    }

    @Override
    public Map<String, Double> globalsWithoutBase() {
        return Map.of(NuSlerp.WITHOUT_BASE, 1.0);
    }

    @Override
    public String modelCountProblem(int models, boolean hasT) {
        return models == 2 ? null : "nuslerp interpolates two models (besides the base_model), got " + models;
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new NuSlerp();
    }
}
