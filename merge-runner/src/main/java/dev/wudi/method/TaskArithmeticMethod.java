package dev.wudi.method;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Task arithmetic (Ilharco et al., 2023): W_0 + scale * the sum of the task vectors ({@link TaskArithmetic}). */
final class TaskArithmeticMethod extends MergeMethod {

    TaskArithmeticMethod() {
        super("task-arithmetic", "W0 + scale * sum of task vectors",
                "Ilharco et al., Editing Models with Task Arithmetic, ICLR 2023, arXiv:2212.04089",
                List.of(new MethodParam("scale", 0.3, "coefficient on the summed task vectors")), Scope.ALL_FLOATING);
    }

    @Override
    public ConfigParams config() {
        Map<String, Object> d = new LinkedHashMap<>();        // in the order the config as run writes them
        d.put("lambda", 1.0);
        d.put("normalize", false);
        d.put("density", 1.0);
        return new ConfigParams(GTA_GLOBAL, Set.of("weight", "density"), Set.of("weight"), d);
    }

    @Override
    public Double mergekitScale() {
        return 1.0;                                        // mergekit's lambda
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new TaskArithmetic(s.scale());
    }

    @Override
    protected Map<String, String> settings(MethodSettings s) {
        return Map.of("scale", String.valueOf(s.scale()));
    }
}
