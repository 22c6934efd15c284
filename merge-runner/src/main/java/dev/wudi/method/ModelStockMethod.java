package dev.wudi.method;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** Model Stock (Jang et al., 2024): the models' mean pulled toward the base by their angles ({@link ModelStock}). */
final class ModelStockMethod extends MergeMethod {

    ModelStockMethod() {
        super("model-stock", "W0 + t (mean of the models - W0), t from the mean angle between the task vectors",
                "Jang et al., Model Stock: All we need is just a few fine-tuned models, ECCV 2024, arXiv:2403.19522",
                List.of(), Scope.ALL_FLOATING);
    }

    @Override
    public ConfigParams config() {
        return new ConfigParams(Set.of("filter_wise"), Set.of(), Set.of(), Map.of("filter_wise", false));
    }

    @Override
    public String modelCountProblem(int models, boolean hasT) {
        return models >= 2 ? null : "model_stock needs at least two models besides the base_model";
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new ModelStock();
    }
}
