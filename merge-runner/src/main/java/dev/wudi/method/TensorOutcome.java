package dev.wudi.method;

/**
 * What a rule reports about one tensor: the interference loss before and after (NaN where the rule
 * does not optimise one).
 */
public record TensorOutcome(double lossBefore, double lossAfter) {

    public static final TensorOutcome NONE = new TensorOutcome(Double.NaN, Double.NaN);

    public boolean hasLoss() {
        return !Double.isNaN(lossBefore);
    }
}
