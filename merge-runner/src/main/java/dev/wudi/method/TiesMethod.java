package dev.wudi.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** TIES-Merging (Yadav et al., 2023): trim, elect signs, disjoint mean ({@link Ties}). */
final class TiesMethod extends MergeMethod {

    TiesMethod() {
        super("ties", "trim to top-density magnitudes, elect signs, disjoint mean, times scale",
                "Yadav et al., TIES-Merging, NeurIPS 2023, arXiv:2306.01708",
                List.of(new MethodParam("density", 0.2, "fraction of each task vector's largest magnitudes kept"),
                        new MethodParam("scale", 1.0, "coefficient on the merged task vector")),
                Scope.ALL_FLOATING);
    }

    @Override
    public ConfigParams config() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("lambda", 1.0);
        d.put("normalize", true);
        d.put("rescale", false);
        d.put("density", 1.0);
        return new ConfigParams(GTA_GLOBAL, Set.of("weight", "density"), Set.of("weight"), d);
    }

    @Override
    public Double mergekitScale() {
        return 1.0;
    }

    @Override
    public Double mergekitDensity() {
        return 1.0;                                        // mergekit trims nothing unless a density is given
    }

    @Override
    public String oneModelWarning() {
        return "one --model: ties of one model is (close to) that model";
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new Ties(s.density(), s.scale());
    }

    @Override
    protected Map<String, String> settings(MethodSettings s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("density", String.valueOf(s.density()));
        m.put("scale", String.valueOf(s.scale()));
        return m;
    }
}
