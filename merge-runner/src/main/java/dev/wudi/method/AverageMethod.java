package dev.wudi.method;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** Weight averaging, or mergekit's weighted linear merge ({@link Average}). */
final class AverageMethod extends MergeMethod {

    AverageMethod() {
        super("average", "mean of the fine-tuned weights (model soup)",
                "Wortsman et al., Model soups, ICML 2022, arXiv:2203.05482", List.of(), Scope.ALL_FLOATING);
    }

    @Override
    public List<String> aliases() {
        return List.of("linear");
    }

    @Override
    public boolean needsBase() {
        return false;                                      // the first model gives the layout
    }

    @Override
    public ConfigParams config() {
        return new ConfigParams(Set.of("normalize"), Set.of("weight"), Set.of("weight"), Map.of("normalize", true));
    }

    @Override
    public String oneModelWarning() {
        return "one --model: average of one model is (close to) that model";
    }

    @Override
    public TensorRule rule(MethodSettings s) {
        return new Average();
    }
}
