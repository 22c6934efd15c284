package dev.wudi.method;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** Spherical interpolation between the base and one model at t ({@link Slerp}). */
final class SlerpMethod extends MergeMethod {

    SlerpMethod() {
        super("slerp", "spherical interpolation between the base (t = 0) and one model (t = 1), per tensor",
                "Shoemake, Animating rotation with quaternion curves, SIGGRAPH 1985",
                List.of(new MethodParam("t", Double.NaN, "the interpolation point, required (a config: per tensor)")),
                Scope.ALL_FLOATING);
    }

    @Override
    public ConfigParams config() {
        return new ConfigParams(Set.of("t"), Set.of(), Set.of(), Map.of());
    }

    @Override
    public String modelCountProblem(int models, boolean hasT) {
        return models == 1 && hasT ? null : "slerp interpolates the base_model and one other model at t: "
                + (models != 1 ? models + " models besides the base" : "parameters: {t: ...} is missing");
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new Slerp(null);
    }
}
