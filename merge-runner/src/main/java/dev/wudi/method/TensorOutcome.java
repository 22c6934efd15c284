package dev.wudi.method;

import java.util.Map;

/**
 * What a rule reports about one tensor: the interference loss before and after (NaN where the rule
 * does not optimise one), and what its solver decided (e.g. "lr" under --lr auto, "filter_param").
 */
public record TensorOutcome(double lossBefore, double lossAfter, Map<String, Double> details) {

    public static final TensorOutcome NONE = new TensorOutcome(Double.NaN, Double.NaN);

    public TensorOutcome {
        details = Map.copyOf(details);
    }

    public TensorOutcome(double lossBefore, double lossAfter) {
        this(lossBefore, lossAfter, Map.of());
    }

    public boolean hasLoss() {
        return !Double.isNaN(lossBefore);
    }
}
